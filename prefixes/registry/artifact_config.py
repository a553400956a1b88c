"""What makes an artifact loadable: its prefix_config.json and its tensors, checked without torch.

The loader (`prefixes.model.load_adapter`) reads prefix_config.json with a strict schema, validates
`method_config` with the method's config class and indexes the tensors by name; a version that
fails any of that would only fail when someone loads it, long after it was published and promoted.
These checks run at publish instead. The schema mirrors `prefixes.artifact.ArtifactConfig`, which
cannot be imported here because it lives with torch (a test keeps the two in step).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prefixes.config import PrefixConfig, PromptConfig
from prefixes.registry.errors import ArtifactError, describe_validation
from prefixes.registry.safetensors_header import TensorInfo

# The newest prefix_config.json format the loader reads.
FORMAT_VERSION = 1
# Folded tensors hold weights; an integer tensor would be silently cast by the loader.
_FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})
HEAD_PREFIX = "head."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArtifactBaseModel(_Strict):
    """`base_model` block of prefix_config.json."""

    model_type: str
    name_or_path: str
    revision: str | None = None
    fingerprint: str
    num_labels: int | None = None


class PrefixLayoutModel(_Strict):
    """`layout` block: one site per attention call of the base model."""

    site_kinds: list[Literal["self", "cross"]] = Field(min_length=1)
    num_kv_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)


class ArtifactConfig(_Strict):
    """prefix_config.json, as strict as the loader reads it."""

    format_version: int = FORMAT_VERSION
    method: Literal["prefix", "p_tuning_v2", "prompt"]
    form: Literal["folded", "training"]
    task_type: str
    method_config: dict[str, Any]
    layout: PrefixLayoutModel | None = None
    hidden_size: int = Field(ge=1)
    base_model: ArtifactBaseModel
    head: list[str] = Field(default_factory=list)
    library_versions: dict[str, str] = Field(default_factory=dict)

    def resolved_shape(self) -> dict[str, Any]:
        """The shape block recorded in the metadata."""
        layout = None if self.layout is None else self.layout.model_dump()
        return {"layout": layout, "hidden_size": self.hidden_size}


def parse_config(data: object, source: str) -> ArtifactConfig:
    """Validate a decoded prefix_config.json, including its method's own config block."""
    if isinstance(data, dict) and isinstance(data.get("format_version"), int):
        if data["format_version"] > FORMAT_VERSION:
            raise ArtifactError(
                f"{source} has format_version {data['format_version']}, newer than the "
                f"{FORMAT_VERSION} this version of prefixes reads: upgrade prefixes to publish it"
            )
    try:
        config = ArtifactConfig.model_validate(data)
        method_class = PromptConfig if config.method == "prompt" else PrefixConfig
        method_config = method_class.model_validate(config.method_config)
    except ValidationError as error:
        raise ArtifactError(
            f"{source} is not a valid prefix config: {describe_validation(error)}"
        ) from None
    if isinstance(method_config, PrefixConfig) and method_config.method != config.method:
        raise ArtifactError(
            f"{source} says method {config.method!r}, but its method_config has "
            f"reparameterization {method_config.reparameterization}, which is "
            f"{method_config.method!r}; export the artifact again with save_pretrained"
        )
    return config


def expected_tensors(config: ArtifactConfig) -> dict[str, tuple[int | None, ...]]:
    """Tensor name -> shape the loader needs (None: any size; head shapes depend on the model)."""
    if config.method == "prompt":
        length = PromptConfig.model_validate(config.method_config).num_virtual_tokens
        shapes: dict[str, tuple[int | None, ...]] = {"prompt": (length, config.hidden_size)}
    else:
        length = PrefixConfig.model_validate(config.method_config).prefix_length
        layout = config.layout
        if layout is None:  # the loader then takes the base model's layout
            shapes = {"prefix": (length, None, 2, None, None)}
        else:
            sites = len(layout.site_kinds)
            shapes = {"prefix": (length, sites, 2, layout.num_kv_heads, layout.head_dim)}
    for name in config.head:
        shapes[HEAD_PREFIX + name] = ()  # present; its shape is checked against the base model
    return shapes


def check_tensors(config: ArtifactConfig, tensors: dict[str, TensorInfo], source: str) -> None:
    """Refuse tensors the loader would not accept for `config`: names, dtypes and shapes."""
    expected = expected_tensors(config)
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
            raise ArtifactError(
                f"{source}: tensor {name!r} has dtype {info.dtype}, expected one of "
                f"{sorted(_FLOAT_DTYPES)}"
            )
        if name.startswith(HEAD_PREFIX):
            continue
        fits = len(info.shape) == len(shape) and all(
            want is None or want == got for want, got in zip(shape, info.shape)
        )
        if not fits:
            wanted = tuple("any" if n is None else n for n in shape)
            raise ArtifactError(
                f"{source}: tensor {name!r} has shape {list(info.shape)}, but prefix_config.json "
                f"needs {list(wanted)}; the config and the weights do not belong together"
            )
