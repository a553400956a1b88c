"""`prefixes`: the library's commands and the pipeline's stages in one group (also `python -m pipeline`).

Subcommands are imported when invoked, so `prefixes registry ...` starts without loading torch.
"""

from __future__ import annotations

from prefixes.cli import LIBRARY_COMMANDS, command_group

# stage command name -> (module, attribute)
STAGE_COMMANDS = {
    "prepare": ("pipeline.prepare", "prepare"),
    "train-prefix": ("pipeline.train", "train_prefix"),
    "train-prompt": ("pipeline.train", "train_prompt"),
    "train-baseline": ("pipeline.train", "train_baseline"),
    "evaluate": ("pipeline.evaluate", "evaluate"),
    "compare": ("pipeline.compare", "compare"),
    "publish": ("pipeline.publish", "publish"),
    "multi-task-bundle": ("pipeline.bundle", "multi_task_bundle"),
    "check-params": ("pipeline.common", "check_params"),
    "sweep": ("pipeline.sweep", "sweep"),
}

main = command_group(LIBRARY_COMMANDS | STAGE_COMMANDS)
