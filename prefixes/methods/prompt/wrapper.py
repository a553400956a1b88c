"""PromptTuningModel: a soft prompt at the input of a frozen transformers model."""

from __future__ import annotations

from contextlib import nullcontext
from typing import cast

import torch
from torch import nn

from prefixes.artifact.schema import ArtifactConfig
from prefixes.inject.attach import prefixes_attached
from prefixes.methods.interface import AdapterMethod
from prefixes.methods.prompt.config import PromptConfig
from prefixes.methods.prompt.peft import config_from_peft
from prefixes.methods.prompt.soft_prompt import SoftPrompt
from prefixes.model import AdaptedModel

# Targets that index token positions move right by the prompt length.
_POSITION_TARGETS = ("start_positions", "end_positions")


class PromptMethod(AdapterMethod[PromptConfig, SoftPrompt]):
    """Soft prompts in the width of the base model's input embeddings."""

    config_class = PromptConfig

    def new_adapter(self, config: PromptConfig) -> SoftPrompt:
        return SoftPrompt(config, cast(nn.Embedding, self.base_model.get_input_embeddings()).weight.shape[1])

    def initialize(self, adapter: SoftPrompt) -> None:
        adapter.initialize(cast(nn.Embedding, self.base_model.get_input_embeddings()), self.tokenizer)

    def folded_tensors(self, adapter: SoftPrompt) -> dict[str, torch.Tensor]:
        return {"prompt": adapter().detach().clone()}

    def adapter_from_tensors(self, config: ArtifactConfig, tensors: dict[str, torch.Tensor]) -> SoftPrompt:
        adapter = self.new_adapter(PromptConfig.model_validate(config.method_config))
        source = tensors["prompt"] if config.form == "folded" else tensors["adapter.embedding"]
        with torch.no_grad():
            adapter.embedding.copy_(source)
        return adapter

    @classmethod
    def config_from_peft(cls, peft_config: dict) -> PromptConfig:
        return config_from_peft(peft_config)

    def adapter_from_peft(self, config: PromptConfig, peft_config: dict, tensor: torch.Tensor) -> SoftPrompt:
        adapter = self.new_adapter(config)
        if tensor.shape != adapter.embedding.shape:
            raise ValueError(
                f"the PEFT prompt has shape {tuple(tensor.shape)} (token_dim={peft_config.get('token_dim')}); this base "
                f"model's embeddings take {tuple(adapter.embedding.shape)}: pass the base model the adapter was "
                "trained on (base_model=...)"
            )
        with torch.no_grad():
            adapter.embedding.copy_(tensor)
        return adapter

    def peft_adapter(self, adapter: SoftPrompt, max_length: int | None) -> tuple[dict, torch.Tensor]:
        tensor = adapter().detach()
        fields = {
            "peft_type": "PROMPT_TUNING",
            "prompt_tuning_init": "RANDOM",  # the trained weights are loaded over it
            "token_dim": tensor.shape[1],
            "num_attention_heads": self.base_model.config.get_text_config().num_attention_heads,
        }
        return fields, tensor


class PromptTuningModel(AdaptedModel):
    """Learned embeddings prepended to the input (the encoder input for seq2seq models).

    Within a batch, examples may use different prompts (``task_ids``) of different lengths: the
    shorter prompts are padded with masked slots up to the longest and positions count only
    unmasked tokens, so each example sees exactly what it would alone.
    """

    method_class = PromptMethod
    adapter_method: PromptMethod

    def _prompted(self, task_ids, input_ids, attention_mask, inputs_embeds):
        """Input embeddings and mask with each example's prompt in front; also the prompt lengths."""
        if inputs_embeds is None:
            inputs_embeds = self.base_model.get_input_embeddings()(input_ids)
        batch, length = inputs_embeds.shape[:2]
        if attention_mask is None:
            attention_mask = torch.ones(batch, length, dtype=torch.long, device=inputs_embeds.device)
        adapters, example_index = self._example_adapters(task_ids)
        prompts = [adapter() for adapter in adapters]  # (P_t, hidden) each
        lengths = torch.tensor([p.shape[0] for p in prompts], device=inputs_embeds.device)
        if example_index is None:
            prompt = prompts[0].unsqueeze(0).expand(batch, -1, -1)
            visible = torch.ones(batch, prompt.shape[1], dtype=attention_mask.dtype, device=attention_mask.device)
            per_example = lengths.expand(batch)
        else:
            longest = int(lengths.max())
            # Encoder-decoder models take no position_ids (T5's relative bias counts slots), so
            # there the padding goes before the prompt; elsewhere after it, keeping the first
            # slot (what BERT-style poolers read) a real virtual token, and positions are recounted.
            pad_left = self.base_model.config.is_encoder_decoder
            bank = torch.stack(
                [
                    nn.functional.pad(p, (0, 0, longest - p.shape[0], 0) if pad_left else (0, 0, 0, longest - p.shape[0]))
                    for p in prompts
                ]
            )
            prompt = bank[example_index]  # (B, P_max, hidden)
            per_example = lengths[example_index]
            slots = torch.arange(longest, device=lengths.device)[None]
            visible = slots >= longest - per_example[:, None] if pad_left else slots < per_example[:, None]
            visible = visible.to(attention_mask.dtype)
        embeds = torch.cat([prompt.to(inputs_embeds.dtype), inputs_embeds], dim=1)
        return embeds, torch.cat([visible, attention_mask], dim=1), per_example, example_index is not None

    def forward(self, task_ids=None, input_ids=None, attention_mask=None, inputs_embeds=None, labels=None, **batch):
        if input_ids is not None and input_ids.dim() == 3:
            return self._forward_choices(task_ids, input_ids, attention_mask, labels, **batch)
        embeds, mask, lengths, mixed = self._prompted(task_ids, input_ids, attention_mask, inputs_embeds)
        # Prompt slots (the longest prompt) come first in every row of the batch.
        prompt_len = embeds.shape[1] - (input_ids.shape[1] if input_ids is not None else inputs_embeds.shape[1])
        if not self.base_model.config.is_encoder_decoder:
            if labels is not None and labels.dim() == 2 and labels.shape[1] + prompt_len == embeds.shape[1]:
                # Token-aligned labels (causal LM): no loss on the prompt.
                labels = nn.functional.pad(labels, (prompt_len, 0), value=-100)
            if batch.get("token_type_ids") is not None:
                batch["token_type_ids"] = nn.functional.pad(batch["token_type_ids"], (prompt_len, 0))
        for name in _POSITION_TARGETS:
            if batch.get(name) is not None:
                batch[name] = batch[name] + prompt_len
        if mixed:
            # Padding between a short prompt and the text must not count as positions.
            with prefixes_attached(self.base_model, None, torch.zeros_like(lengths)):
                return self.base_model(inputs_embeds=embeds, attention_mask=mask, labels=labels, **batch)
        return self.base_model(inputs_embeds=embeds, attention_mask=mask, labels=labels, **batch)

    def _forward_choices(self, task_ids, input_ids, attention_mask, labels, **batch):
        """Multiple choice, (B, choices, T): every (question, choice) row gets its example's prompt,
        and the head gets (B, choices, P + T) back to score the choices against each other."""
        examples, choices, width = input_ids.shape
        flat_mask = None if attention_mask is None else attention_mask.reshape(-1, width)
        flat_ids = None if task_ids is None else torch.as_tensor(task_ids).repeat_interleave(choices)
        embeds, mask, lengths, mixed = self._prompted(flat_ids, input_ids.reshape(-1, width), flat_mask, None)
        prompt_len = embeds.shape[1] - width
        if batch.get("token_type_ids") is not None:
            segments = nn.functional.pad(batch["token_type_ids"].reshape(-1, width), (prompt_len, 0))
            batch["token_type_ids"] = segments.view(examples, choices, -1)
        # The head flattens back to (B * choices, P + T): the rows, and `lengths`, keep this order.
        attached = prefixes_attached(self.base_model, None, torch.zeros_like(lengths)) if mixed else nullcontext()
        with attached:
            return self.base_model(inputs_embeds=embeds.view(examples, choices, *embeds.shape[1:]),
                                   attention_mask=mask.view(examples, choices, -1), labels=labels, **batch)

    @torch.no_grad()
    def generate(self, task_ids=None, input_ids=None, attention_mask=None, **kwargs):
        """Generation from prompted embeddings; like transformers, returns input_ids + new tokens for decoder-only models."""
        embeds, mask, _, _ = self._prompted(task_ids, input_ids, attention_mask, None)
        output = self.base_model.generate(inputs_embeds=embeds, attention_mask=mask, **kwargs)
        if self.base_model.config.is_encoder_decoder:
            return output
        sequences = output if isinstance(output, torch.Tensor) else output.sequences
        # Generating from embeddings returns only the new tokens; put the real input in front.
        prompt_ids = input_ids.repeat_interleave(sequences.shape[0] // input_ids.shape[0], dim=0)
        return torch.cat([prompt_ids, sequences], dim=1)
