"""What a model wrapper asks of its method: the small interface every adapter method implements.

The wrapper (``prefixes.model.AdaptedModel``) freezes the base model, keeps the bank of adapters
and saves/loads them; it holds one ``AdapterMethod``, built over its base model, for everything
that depends on what an adapter is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import torch
from pydantic import BaseModel
from torch import nn
from transformers import PreTrainedModel

from prefixes.artifact.schema import ArtifactConfig

ConfigT = TypeVar("ConfigT", bound=BaseModel)
AdapterT = TypeVar("AdapterT", bound=nn.Module)


class Adapter(Protocol):
    """What the wrapper reads of any adapter in its bank (an ``nn.Module``)."""

    @property
    def config(self) -> BaseModel: ...

    @property
    def length(self) -> int:
        """Its virtual tokens."""
        ...


class AdapterMethod(ABC, Generic[ConfigT, AdapterT]):
    """One method's adapters over one base model."""

    config_class: ClassVar[type[BaseModel]]

    def __init__(self, base_model: PreTrainedModel, tokenizer: Any = None):
        self.base_model = base_model
        self.tokenizer = tokenizer

    @abstractmethod
    def new_adapter(self, config: ConfigT) -> AdapterT:
        """A fresh adapter (an ``nn.Module`` with ``.config`` and ``.length``, its virtual tokens)."""

    @abstractmethod
    def initialize(self, adapter: AdapterT) -> None:
        """Start ``adapter`` from its config's initialisation (text, vocabulary sample, ...)."""

    @abstractmethod
    def folded_tensors(self, adapter: AdapterT) -> dict[str, torch.Tensor]:
        """The inference form of ``adapter``, as the tensors of a folded artifact."""

    @abstractmethod
    def adapter_from_tensors(self, config: ArtifactConfig, tensors: dict[str, torch.Tensor]) -> AdapterT:
        """The adapter stored in an artifact (folded, or training form with ``adapter.*`` tensors)."""

    def layout(self) -> dict | None:
        """Where the adapter enters the base model, recorded in artifacts and checked on load."""
        return None

    def peft_adapter(self, adapter: AdapterT, max_length: int | None) -> tuple[dict, torch.Tensor]:
        """PEFT's config fields and weight tensor for ``adapter`` (see prefixes.peft_export); ``max_length``
        bounds the sequences the export will see, where that decides whether PEFT computes the same."""
        raise ValueError(f"{type(self).__name__} has no PEFT equivalent: use save_pretrained instead")

    @classmethod
    def config_from_peft(cls, peft_config: dict) -> BaseModel:
        """This method's config for a PEFT adapter's ``adapter_config.json`` (see prefixes.peft_import)."""
        raise ValueError(f"{cls.__name__} takes no PEFT prompt-learning adapter: PEFT import reads prefix tuning "
                         "into PrefixTuningModel and prompt tuning into PromptTuningModel")

    def adapter_from_peft(self, config: ConfigT, peft_config: dict, tensor: torch.Tensor) -> AdapterT:
        """The adapter held by a PEFT checkpoint's ``prompt_embeddings``, refused if it does not fit the base model."""
        raise ValueError(f"{type(self).__name__} takes no PEFT prompt-learning adapter")

    def device(self) -> torch.device:
        return next(self.base_model.parameters()).device
