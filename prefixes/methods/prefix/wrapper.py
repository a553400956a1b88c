"""PrefixTuningModel: prefix tuning and P-tuning v2 over any transformers model."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch

from prefixes.artifact.schema import ArtifactConfig
from prefixes.inject.attach import prefixes_attached
from prefixes.inject.generate import generate_with_prefilled_cache, takes_prefilled_cache
from prefixes.inject.state import build_state
from prefixes.inject.trace import discover_layout, probe_inputs, record_attention
from prefixes.methods.interface import AdapterMethod
from prefixes.methods.prefix.config import PrefixConfig
from prefixes.methods.prefix.encoder import PrefixEncoder, interpolate, prefix_from_folded, text_activations
from prefixes.methods.prefix.peft import config_from_peft, prefix_from_peft
from prefixes.model import AdaptedModel
from prefixes.peft_export import check_windows

if TYPE_CHECKING:
    from transformers import GenerationMixin


class PrefixMethod(AdapterMethod[PrefixConfig, PrefixEncoder]):
    """Prefix encoders sized from the base model's attention sites (found once, here)."""

    config_class = PrefixConfig

    def __init__(self, base_model, tokenizer=None):
        super().__init__(base_model, tokenizer)
        # prefix_layout: what prefixes are sized from; attachment: how they reach each attention
        # site (the attention interface or a prefilled cache) and in which order.
        self.prefix_layout, self.attachment = discover_layout(base_model)

    def new_adapter(self, config: PrefixConfig) -> PrefixEncoder:
        return PrefixEncoder(config, self.prefix_layout, self.base_model.config.get_text_config().hidden_size)

    def initialize(self, adapter: PrefixEncoder) -> None:
        activations = site_scale = None
        config = adapter.config
        if config.init == "text":
            activations = self.text_activations(cast(str, config.init_text), adapter.length)
        elif config.init == "vocab_sample":
            vocab = self.base_model.config.get_text_config().vocab_size
            ids = torch.randint(0, min(config.vocab_sample_size, vocab), (1, adapter.length), device=self.device())
            activations = self._token_activations(ids, adapter.length)
        elif not config.reparameterization:
            site_scale = self._site_scale()
        adapter.initialize(activations, site_scale)

    def _site_scale(self) -> torch.Tensor:
        """Std of the model's own keys and values at each site (sites, 2), on a fixed probe text."""
        inputs = probe_inputs(self.base_model, source_len=32, target_len=8)
        calls = record_attention(self.base_model, inputs, self.attachment.mechanism)
        return torch.tensor([[call.key.std().item(), call.value.std().item()] for call in calls])

    def text_activations(self, text: str, length: int) -> torch.Tensor:
        if self.tokenizer is None:
            raise ValueError("PrefixConfig(init='text') needs the base model's tokenizer: pass tokenizer=...")
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"].to(self.device())
        if ids.shape[1] == 0:
            raise ValueError("init_text tokenizes to no tokens: give a non-empty text")
        return self._token_activations(ids, length)

    def _token_activations(self, ids: torch.Tensor, length: int) -> torch.Tensor:
        """Every site's keys/values for the tokens ``ids`` (1, T), arranged as a prefix."""
        inputs = {"input_ids": ids}
        if self.base_model.config.is_encoder_decoder:
            inputs["decoder_input_ids"] = ids
        calls = record_attention(self.base_model, inputs, self.attachment.mechanism)
        # Cross-attention keys come from the encoder side; every site gets the text's own tokens.
        per_site = [(call.key, call.value) for call in calls]
        return text_activations(per_site, length)

    def folded_tensors(self, adapter: PrefixEncoder) -> dict[str, torch.Tensor]:
        return {"prefix": adapter.folded()}

    def adapter_from_tensors(self, config: ArtifactConfig, tensors: dict[str, torch.Tensor]) -> PrefixEncoder:
        method_config = PrefixConfig.model_validate(config.method_config)
        if config.form == "folded":
            return prefix_from_folded(method_config, self.prefix_layout, tensors["prefix"])
        adapter = self.new_adapter(method_config)
        adapter.load_state_dict({k.removeprefix("adapter."): v for k, v in tensors.items() if k.startswith("adapter.")})
        return adapter

    @classmethod
    def config_from_peft(cls, peft_config: dict) -> PrefixConfig:
        return config_from_peft(peft_config)

    def adapter_from_peft(self, config: PrefixConfig, peft_config: dict, tensor: torch.Tensor) -> PrefixEncoder:
        return prefix_from_peft(config, self.prefix_layout, peft_config, tensor)

    def layout(self) -> dict:
        return self.prefix_layout.to_dict()

    def peft_adapter(self, adapter: PrefixEncoder, max_length: int | None) -> tuple[dict, torch.Tensor]:
        text_config = self.base_model.config.get_text_config()
        layout = self.prefix_layout
        check_windows(self.base_model, self.attachment.windows, adapter.length, max_length)
        if layout.num_sites != text_config.num_hidden_layers:
            raise ValueError(
                f"PEFT expects one prefix per decoder layer ({text_config.num_hidden_layers}); this model has "
                f"{layout.num_sites} attention sites and cannot be exported"
            )
        folded = adapter.folded()
        # PEFT sizes its view from these two fields; kv heads x head_dim keeps GQA models exact.
        fields = {
            "peft_type": "PREFIX_TUNING",
            # What PEFT saves for prefix_projection=True is the MLP's output, as here, and what it loads
            # for inference; the flag keeps how the prefix was trained through an import.
            "prefix_projection": adapter.config.reparameterization,
            "encoder_hidden_size": adapter.config.prefix_hidden_size if adapter.config.reparameterization
            else text_config.hidden_size,
            "num_attention_heads": layout.num_kv_heads,
            "token_dim": layout.num_kv_heads * layout.head_dim,
        }
        return fields, folded.reshape(folded.shape[0], -1)


class PrefixTuningModel(AdaptedModel):
    """Learned keys/values prepended in every attention layer of a frozen model.

    ``PrefixConfig(reparameterization=True)`` is prefix tuning (MLP while training, folded for
    inference); ``reparameterization=False`` is P-tuning v2 (flat prefixes; a classification
    head trains too). ``task_ids`` in a forward picks an adapter per example.
    """

    method_class = PrefixMethod
    adapter_method: PrefixMethod

    @property
    def layout(self):
        """The attention sites prefixes enter (``prefixes.inject.layout.PrefixLayout``)."""
        return self.adapter_method.prefix_layout

    @property
    def attachment(self):
        """How prefixes reach the sites: mechanism, cache class, windows (``prefixes.inject.layout.Attachment``)."""
        return self.adapter_method.attachment

    def _state(self, task_ids: torch.Tensor | None):
        adapters, example_index = self._example_adapters(task_ids)
        prefixes = [adapter() for adapter in adapters]  # each task's prefix computed once per forward
        state = build_state(self.layout, self.adapter_method.attachment.index, prefixes, example_index)
        lengths = torch.tensor([p.shape[0] for p in prefixes], device=self._device())
        offsets = lengths if example_index is None else lengths[example_index]
        return state, offsets

    def forward(self, task_ids: torch.Tensor | None = None, **batch):
        """Run the base model with prefixes; ``batch`` is what the transformers model takes."""
        state, offsets = self._state(task_ids)
        with self._attached(state, offsets):
            return self.base_model(**batch)

    @torch.no_grad()
    def generate(self, task_ids: torch.Tensor | None = None, *, prefix_in_cache: bool = True, **kwargs):
        """``transformers`` generation (greedy, sampling, beam search) with the KV cache.

        Where the model allows (``prefixes.inject.generate``), the prefix is written into the cache
        once before decoding; otherwise, or with ``prefix_in_cache=False`` (the same tokens, for
        comparison), every attention call prepends it.
        """
        state, offsets = self._state(task_ids)
        if prefix_in_cache and takes_prefilled_cache(self.base_model, self.attachment, kwargs):
            return generate_with_prefilled_cache(self.base_model, state, kwargs)
        with self._attached(state, offsets):
            return cast("GenerationMixin", self.base_model).generate(**kwargs)

    def _attached(self, state, offsets):
        attachment = self.adapter_method.attachment
        return prefixes_attached(self.base_model, state, offsets, attachment.mechanism, attachment.cache_class)

    def add_interpolated(self, name: str, first: str, second: str, alpha: float) -> PrefixEncoder:
        """Add ``alpha * first + (1 - alpha) * second`` (folded) as a new adapter, in the model's train/eval mode.

        For a new model mixing two artifacts or models, see ``prefixes.interpolate_models``."""
        a, b = cast(PrefixEncoder, self.adapters[first]), cast(PrefixEncoder, self.adapters[second])
        mixed = interpolate(alpha, a.folded(), b.folded())
        adapter = prefix_from_folded(a.config, self.layout, mixed).to(self._device())
        adapter.train(self.training)  # a new module starts in training mode; it follows the model's
        self.adapters[name] = adapter
        return adapter

