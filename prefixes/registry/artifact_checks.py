"""What makes an artifact loadable, checked at publish without torch: its config and its tensors.

The loader (`prefixes.model.load_adapter`) reads prefix_config.json with the one artifact schema
(`prefixes.artifact.schema`), builds the method's config with the method's own class and indexes
the tensors by name; a version that fails any of that would only fail when someone loads it, long
after it was published and promoted. These checks run at publish instead. What tensors a method's
artifact holds is the method's knowledge (its config's `artifact_tensors`), not the registry's.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from prefixes.artifact.schema import FORMAT_VERSION, ArtifactConfig
from prefixes.methods.registry import get_method, method_of_config
from prefixes.registry.errors import ArtifactError, describe_validation
from prefixes.registry.safetensors_header import TensorInfo

# Folded tensors hold weights; an integer tensor would be silently cast by the loader.
_FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})
HEAD_PREFIX = "head."
_LAYOUT_KEYS = ("site_kinds", "num_kv_heads", "head_dim")


def parse_config(data: object, source: str) -> tuple[ArtifactConfig, BaseModel]:
    """Validate a decoded prefix_config.json and its method's config block; return both."""
    if isinstance(data, dict) and isinstance(data.get("format_version"), int) and data["format_version"] > FORMAT_VERSION:
        raise ArtifactError(
            f"{source} has format_version {data['format_version']}, newer than the "
            f"{FORMAT_VERSION} this version of prefixes reads: upgrade prefixes to publish it"
        )
    try:
        config = ArtifactConfig.model_validate(data)
        spec = get_method(config.method)
        method_config = spec.config_class.model_validate(config.method_config)
    except ValidationError as error:
        raise ArtifactError(f"{source} is not a valid prefix config: {describe_validation(error)}") from None
    except ValueError as error:  # a method this installation does not know
        raise ArtifactError(f"{source}: {error}") from None
    if not hasattr(method_config, "artifact_tensors"):
        raise ArtifactError(f"{source} holds a {config.method!r} model, which makes no prefix artifact to publish")
    actual = method_of_config(method_config).name
    if actual != config.method:
        raise ArtifactError(
            f"{source} says method {config.method!r}, but its method_config is a {actual!r} config; "
            "export the artifact again with save_pretrained"
        )
    _check_layout(config, source)
    return config, method_config


def _check_layout(config: ArtifactConfig, source: str) -> None:
    layout = config.layout
    if layout is None:
        return
    kinds, heads, dim = (layout.get(key) for key in _LAYOUT_KEYS)
    well_formed = (isinstance(kinds, list) and kinds and all(kind in ("self", "cross") for kind in kinds)
                   and isinstance(heads, int) and heads >= 1 and isinstance(dim, int) and dim >= 1)
    if not well_formed:
        raise ArtifactError(f"{source}: layout {layout!r} is not a valid attention layout "
                            f"({', '.join(_LAYOUT_KEYS)}); export the artifact again with save_pretrained")


def check_tensors(config: ArtifactConfig, method_config, tensors: dict[str, TensorInfo], source: str) -> None:
    """Refuse tensors the loader would not accept for `config`: names, dtypes and shapes."""
    expected = dict(method_config.artifact_tensors(config.layout, config.hidden_size))
    expected |= {HEAD_PREFIX + name: () for name in config.head}  # head shapes depend on the base model
    missing = sorted(expected.keys() - tensors.keys())
    unexpected = sorted(tensors.keys() - expected.keys())
    if missing or unexpected:
        raise ArtifactError(
            f"{source} does not match its prefix_config.json ({config.method}): missing tensors "
            f"{missing or 'none'}, unexpected tensors {unexpected or 'none'}; export the "
            "artifact again with save_pretrained"
        )
    for name, shape in expected.items():
        info = tensors[name]
        if info.dtype not in _FLOAT_DTYPES:
            raise ArtifactError(f"{source}: tensor {name!r} has dtype {info.dtype}, expected one of {sorted(_FLOAT_DTYPES)}")
        if 0 in info.shape:  # loads, but a head or prefix without values cannot be what was trained
            raise ArtifactError(f"{source}: tensor {name!r} has shape {list(info.shape)}, which holds no values; "
                                "export the artifact again with save_pretrained")
        if name.startswith(HEAD_PREFIX):
            continue
        fits = len(info.shape) == len(shape) and all(want is None or want == got for want, got in zip(shape, info.shape))
        if not fits:
            wanted = tuple("any" if n is None else n for n in shape)
            raise ArtifactError(
                f"{source}: tensor {name!r} has shape {list(info.shape)}, but prefix_config.json "
                f"needs {list(wanted)}; the config and the weights do not belong together"
            )


def check_finite(tensors: dict[str, tuple[int, int]], source: str) -> None:
    """Refuse weights holding NaN or infinity (`tensors`: name -> (bad values, all values))."""
    if tensors:
        name = min(tensors)
        bad, total = tensors[name]
        raise ArtifactError(
            f"{source}: tensor {name!r} holds {bad} NaN or infinite values of {total}; training "
            "diverged: fix the run (a lower learning rate, or full precision) and export it again"
        )
