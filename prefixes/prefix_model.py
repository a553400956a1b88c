"""Named for the pipeline's task module, which still imports the wrapper from here; new code
imports it from ``prefixes.methods.prefix.wrapper`` (or ``prefixes``)."""

from prefixes.methods.prefix.wrapper import PrefixTuningModel

__all__ = ["PrefixTuningModel"]
