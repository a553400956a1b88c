"""PrefixTuningModel: prefix tuning and P-tuning v2 over any transformers model."""

from __future__ import annotations

from typing import ClassVar

import torch

from prefixes.artifact import ArtifactConfig
from prefixes.config import PrefixConfig
from prefixes.inject import build_state
from prefixes.inject_attach import prefixes_attached
from prefixes.inject_trace import discover_layout, probe_inputs, record_attention
from prefixes.methods.prefix import TRAINING_DEFAULTS, PrefixEncoder, interpolate, prefix_from_folded, text_activations
from prefixes.model import AdaptedModel


class PrefixTuningModel(AdaptedModel):
    """Learned keys/values prepended in every attention layer of a frozen model.

    ``PrefixConfig(reparameterization=True)`` is prefix tuning (MLP while training, folded for
    inference); ``reparameterization=False`` is P-tuning v2 (flat prefixes; a classification
    head trains too). ``task_ids`` in a forward picks an adapter per example.
    """

    method: ClassVar[str] = "prefix"
    methods: ClassVar[frozenset[str]] = frozenset({"prefix", "p_tuning_v2"})

    def _setup_method(self) -> None:
        self.layout, self.sites = discover_layout(self.base_model)

    @classmethod
    def _config_class(cls):
        return PrefixConfig

    def _new_adapter(self, config: PrefixConfig) -> PrefixEncoder:
        return PrefixEncoder(config, self.layout, self.base_model.config.get_text_config().hidden_size)

    def _initialize(self, adapter: PrefixEncoder) -> None:
        activations = site_scale = None
        config = adapter.config
        if config.init == "text":
            activations = self._text_activations(config.init_text, adapter.length)
        elif config.init == "vocab_sample":
            vocab = self.base_model.config.get_text_config().vocab_size
            ids = torch.randint(0, min(config.vocab_sample_size, vocab), (1, adapter.length), device=self._device())
            activations = self._token_activations(ids, adapter.length)
        elif not config.reparameterization:
            site_scale = self._site_scale()
        adapter.initialize(activations, site_scale)

    def _site_scale(self) -> torch.Tensor:
        """Std of the model's own keys and values at each site (sites, 2), on a fixed probe text."""
        inputs = probe_inputs(self.base_model, source_len=32, target_len=8)
        calls = record_attention(self.base_model, inputs, self.sites.mechanism)
        return torch.tensor([[call.key.std().item(), call.value.std().item()] for call in calls])

    def _text_activations(self, text: str, length: int) -> torch.Tensor:
        if self.tokenizer is None:
            raise ValueError("PrefixConfig(init='text') needs the base model's tokenizer: pass tokenizer=...")
        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"].to(self._device())
        if ids.shape[1] == 0:
            raise ValueError("init_text tokenizes to no tokens: give a non-empty text")
        return self._token_activations(ids, length)

    def _token_activations(self, ids: torch.Tensor, length: int) -> torch.Tensor:
        """Every site's keys/values for the tokens ``ids`` (1, T), arranged as a prefix."""
        inputs = {"input_ids": ids}
        if self.base_model.config.is_encoder_decoder:
            inputs["decoder_input_ids"] = ids
        calls = record_attention(self.base_model, inputs, self.sites.mechanism)
        # Cross-attention keys come from the encoder side; every site gets the text's own tokens.
        per_site = [(call.key, call.value) for call in calls]
        return text_activations(per_site, length)

    def training_defaults(self) -> dict:
        return TRAINING_DEFAULTS[self.adapters[self.active_adapter].config.method]

    def _method_name(self, adapter: PrefixEncoder) -> str:
        return adapter.config.method

    def _layout_dict(self) -> dict:
        return self.layout.to_dict()

    def _folded_tensors(self, adapter: PrefixEncoder) -> dict[str, torch.Tensor]:
        return {"prefix": adapter.folded()}

    def _adapter_from_tensors(self, config: ArtifactConfig, tensors: dict[str, torch.Tensor]) -> PrefixEncoder:
        method_config = PrefixConfig.model_validate(config.method_config)
        if config.form == "folded":
            return prefix_from_folded(method_config, self.layout, tensors["prefix"])
        adapter = self._new_adapter(method_config)
        adapter.load_state_dict({k.removeprefix("adapter."): v for k, v in tensors.items() if k.startswith("adapter.")})
        return adapter

    # ----- running --------------------------------------------------------------------------
    def _state(self, task_ids: torch.Tensor | None):
        adapters, example_index = self._example_adapters(task_ids)
        prefixes = [adapter() for adapter in adapters]  # each task's prefix computed once per forward
        state = build_state(self.layout, self.sites.index, prefixes, example_index)
        lengths = torch.tensor([p.shape[0] for p in prefixes], device=self._device())
        offsets = lengths if example_index is None else lengths[example_index]
        return state, offsets

    def forward(self, task_ids: torch.Tensor | None = None, **batch):
        """Run the base model with prefixes; ``batch`` is what the transformers model takes."""
        state, offsets = self._state(task_ids)
        with self._attached(state, offsets):
            return self.base_model(**batch)

    @torch.no_grad()
    def generate(self, task_ids: torch.Tensor | None = None, **kwargs):
        """``transformers`` generation (greedy, sampling, beam search) with the KV cache."""
        state, offsets = self._state(task_ids)
        with self._attached(state, offsets):
            return self.base_model.generate(**kwargs)

    def _attached(self, state, offsets):
        return prefixes_attached(self.base_model, state, offsets, self.sites.mechanism, self.sites.cache_class)

    # ----- combining ------------------------------------------------------------------------
    def add_interpolated(self, name: str, first: str, second: str, alpha: float) -> PrefixEncoder:
        """Add ``alpha * first + (1 - alpha) * second`` (folded) as a new adapter."""
        a, b = self.adapters[first], self.adapters[second]
        mixed = interpolate(alpha, a.folded(), b.folded())
        adapter = prefix_from_folded(a.config, self.layout, mixed).to(self._device())
        self.adapters[name] = adapter
        return adapter


def interpolate_models(first: PrefixTuningModel, second: PrefixTuningModel, alpha: float) -> torch.Tensor:
    """Interpolate the active prefixes of two models; they must share base weights and shape."""
    if first.base_fingerprint() != second.base_fingerprint():
        raise ValueError(
            "cannot interpolate prefixes trained on different base models "
            f"({first.model_name_or_path} vs {second.model_name_or_path}): both need the same base weights"
        )
    return interpolate(alpha, first.adapters[first.active_adapter].folded(), second.adapters[second.active_adapter].folded())

