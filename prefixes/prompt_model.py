"""Named for the pipeline's task module, which still imports the wrapper from here; new code
imports it from ``prefixes.methods.prompt.wrapper`` (or ``prefixes``)."""

from prefixes.methods.prompt.wrapper import PromptTuningModel

__all__ = ["PromptTuningModel"]
