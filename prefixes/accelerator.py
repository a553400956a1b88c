"""The ``Accelerator`` a training run uses, and a warning where its mixed precision would cost time.

bf16 autocast speeds a CPU step up only where the CPU multiplies bf16 natively (AVX512-BF16 or
AMX); elsewhere every matmul is emulated and the step is slower than in fp32.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DistributedDataParallelKwargs

from prefixes.config import TrainingConfig
from prefixes.tracking import trackers

logger = logging.getLogger(__name__)
_NATIVE_BF16 = ("avx512_bf16", "amx_bf16")


def make_accelerator(config: TrainingConfig, *, num_adapters: int, log_dir: Path | None = None) -> Accelerator:
    """An Accelerator with the config's precision, accumulation and trackers (logging under ``log_dir``);
    warns about emulated bf16."""
    _allow_precision(config.mixed_precision)
    accelerator = Accelerator(
        log_with=trackers(config.report_to) or None, project_dir=log_dir,
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        # With several adapters in the bank, a batch may leave some of them unused.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=num_adapters > 1)],
    )
    if config.mixed_precision == "bf16" and accelerator.device.type == "cpu" and not cpu_has_native_bf16():
        logger.warning(
            "mixed_precision='bf16' on a CPU without AVX512-BF16 or AMX: bf16 is emulated and "
            "training runs slower than in fp32; set TrainingConfig.mixed_precision='no' on this machine."
        )
    return accelerator


def _allow_precision(mixed_precision: str) -> None:
    """Let this run use its own precision after an earlier run in the process used another.

    accelerate keeps one process-wide state and refuses a second precision in it; a new run
    clears that state, as transformers' Trainer does, keeping the process group (PartialState).
    """
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision") not in (None, mixed_precision):
        AcceleratorState._reset_state(reset_partial_state=False)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX)."""
    capabilities = torch.cpu.get_capabilities()
    return any(capabilities.get(name, False) for name in _NATIVE_BF16)
