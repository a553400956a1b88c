"""Tokenisation of source -> target Examples for causal (decoder-only) and seq2seq models."""

from __future__ import annotations

from typing import Any, cast

from prefixes.data.example import DataError, Example, row_name
from prefixes.data.truncation import (
    IGNORE_INDEX,
    TruncationReport,
    report_truncation,
    token_counts,
)

SOURCE_SLOT = "{source}"
CAUSAL_TEMPLATE = "{source}\n"
SEQ2SEQ_TEMPLATE = "{source}"


def _split_template(template: str) -> tuple[str, str]:
    """Text before and after the single "{source}" slot of a prompt template."""
    if template.count(SOURCE_SLOT) != 1:
        raise DataError(
            f"template={template!r} must contain {SOURCE_SLOT!r} exactly once, e.g. "
            "'Question: {source}\\nAnswer: '."
        )
    before, after = template.split(SOURCE_SLOT)
    return before, after


def _targets(examples: list[Example], origin: str | None) -> list[str]:
    for index, example in enumerate(examples):
        if example.target is None:
            raise DataError(
                f"{row_name(origin, index)} field 'target' is empty: generation needs a target for every "
                "training example (use encode_prompts() for source-only prompts)."
            )
    return [cast(str, example.target) for example in examples]


def _special_prefix(tokenizer: Any) -> list[int]:
    """Special tokens the tokenizer puts before a text (e.g. Llama's BOS); often none."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return full[:start]
    return []


class CausalGenerationFormat:
    """Decoder-only LM: [BOS] + template(source) + target + EOS, with the loss on the target only.

    labels are -100 over the prompt, so exactly the target tokens (and EOS) are trained. When the
    example exceeds `max_length`, the source is cut from the left first: the template, the end of
    the source next to the target, and the target itself survive longest.

    The prompt is tokenised as one string (so "Q: {source}" keeps natural word boundaries) and the
    target on its own, so training prompts are token-for-token the prompts of `encode_prompts`.
    """

    def __init__(
        self,
        tokenizer: Any,
        max_length: int,
        max_target_length: int | None = None,
        template: str = CAUSAL_TEMPLATE,
    ) -> None:
        if tokenizer.eos_token_id is None:
            raise DataError(
                f"{type(tokenizer).__name__} has no eos_token: set tokenizer.eos_token so that "
                "the model learns where a target ends."
            )
        if not getattr(tokenizer, "is_fast", False):
            raise DataError(
                f"{type(tokenizer).__name__} is not a fast tokenizer: the causal format needs its "
                "offset mapping to find the source inside the prompt."
            )
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.max_target_length = max_target_length
        self._before, self._after = _split_template(template)
        self._special = _special_prefix(tokenizer)
        fixed = len(self._special) + len(self._token_ids([self._before + self._after])[0])
        if fixed + (max_target_length or 1) > max_length:
            raise DataError(
                f"max_length={max_length} leaves no room: the template takes {fixed} tokens and "
                f"max_target_length={max_target_length}. Raise max_length."
            )

    def encode(self, examples: list[Example], origin: str | None = None) -> tuple[list[dict], TruncationReport]:
        """input_ids = prompt + target + EOS; labels = -100 on the prompt, the target ids after.

        `origin` (e.g. the file the examples came from) is named in errors with the row number.
        """
        targets = self._token_ids(_targets(examples, origin))
        features, truncated = [], 0
        for parts, target in zip(self._prompt_parts(examples), targets):
            head, source, tail = parts
            target = target + [self.tokenizer.eos_token_id]
            target_limit = self.max_length - len(head) - len(tail)
            if self.max_target_length is not None:
                target_limit = min(target_limit, self.max_target_length)
            room = self.max_length - len(head) - len(tail) - min(len(target), target_limit)
            truncated += len(target) > target_limit or len(source) > room
            prompt = head + source[max(0, len(source) - room) :] + tail
            target = target[:target_limit]  # a cut target loses its EOS: the text did not end there
            features.append(
                {
                    "input_ids": prompt + target,
                    "attention_mask": [1] * (len(prompt) + len(target)),
                    "labels": [IGNORE_INDEX] * len(prompt) + target,
                }
            )
        report = TruncationReport(len(examples), truncated, self.max_length)
        return features, report_truncation(report, "causal generation")

    def encode_prompts(self, examples: list[Example]) -> list[dict]:
        """Prompts alone, for generation; room for `max_target_length` new tokens is kept free."""
        features, report = self._prompts(examples)
        report_truncation(report, "causal generation prompts")
        return features

    def prompt_truncation(self, examples: list[Example]) -> TruncationReport:
        """How many generation prompts (`encode_prompts`) lose source tokens; nothing logged."""
        return self._prompts(examples)[1]

    def _prompts(self, examples: list[Example]) -> tuple[list[dict], TruncationReport]:
        features, truncated = [], 0
        for head, source, tail in self._prompt_parts(examples):
            room = self.max_length - len(head) - len(tail) - (self.max_target_length or 0)
            truncated += len(source) > room
            prompt = head + source[max(0, len(source) - room) :] + tail
            features.append({"input_ids": prompt, "attention_mask": [1] * len(prompt)})
        return features, TruncationReport(len(examples), truncated, self.max_length)

    def _prompt_parts(
        self, examples: list[Example]
    ) -> list[tuple[list[int], list[int], list[int]]]:
        return causal_prompt_parts(self.tokenizer, examples, self._before, self._after, self._special)

    def _token_ids(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]


class Seq2SeqGenerationFormat:
    """Encoder-decoder: input_ids from template(source), labels from the target.

    Both sides are cut from the right by the tokenizer, which keeps its special tokens; labels
    stay unpadded here and `collate` pads them with -100.
    """

    def __init__(
        self,
        tokenizer: Any,
        max_length: int,
        max_target_length: int | None = None,
        template: str = SEQ2SEQ_TEMPLATE,
    ) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.max_target_length = max_target_length or max_length
        self._before, self._after = _split_template(template)

    def encode(self, examples: list[Example], origin: str | None = None) -> tuple[list[dict], TruncationReport]:
        """input_ids/attention_mask for the source, labels for the target (`origin` as in the causal format)."""
        targets = _targets(examples, origin)
        features, truncated_sources = self._encode_sources(examples)
        target_lengths = [
            len(ids)
            for ids in self.tokenizer(text_target=targets, truncation=False, verbose=False)[
                "input_ids"
            ]
        ]
        labels = self.tokenizer(
            text_target=targets, truncation=True, max_length=self.max_target_length
        )["input_ids"]
        for feature, label in zip(features, labels):
            feature["labels"] = label
        truncated = sum(
            cut or length > self.max_target_length
            for cut, length in zip(truncated_sources, target_lengths)
        )
        report = TruncationReport(len(examples), truncated, self.max_length)
        return features, report_truncation(report, "seq2seq generation")

    def encode_prompts(self, examples: list[Example]) -> list[dict]:
        """Encoder inputs alone, for generation at evaluation time."""
        features, truncated = self._encode_sources(examples)
        report = TruncationReport(len(examples), sum(truncated), self.max_length)
        report_truncation(report, "seq2seq generation prompts")
        return features

    def prompt_truncation(self, examples: list[Example]) -> TruncationReport:
        """How many encoder inputs (`encode_prompts`) lose source tokens; nothing logged."""
        _, truncated = self._encode_sources(examples)
        return TruncationReport(len(examples), sum(truncated), self.max_length)

    def _encode_sources(self, examples: list[Example]) -> tuple[list[dict], list[bool]]:
        sources = [self._before + example.text + self._after for example in examples]
        lengths = token_counts(self.tokenizer, sources)
        encoded = self.tokenizer(sources, truncation=True, max_length=self.max_length)
        features = [
            {"input_ids": ids, "attention_mask": mask}
            for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"])
        ]
        return features, [length > self.max_length for length in lengths]


def causal_prompt_parts(
    tokenizer: Any, examples: list[Example], before: str, after: str, special: list[int]
) -> list[tuple[list[int], list[int], list[int]]]:
    """(special + template-before, source, template-after) token ids of each causal prompt.

    The prompt is tokenised as one string; a token belongs to the source when its characters
    overlap the source text, so only source tokens are ever truncated.
    """
    prompts = [before + example.text + after for example in examples]
    encoded = tokenizer(prompts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    parts = []
    begin = len(before)
    for example, ids, offsets in zip(examples, encoded["input_ids"], encoded["offset_mapping"]):
        end = begin + len(example.text)
        head = [i for i, (_, stop) in zip(ids, offsets) if stop <= begin]
        tail = [i for i, (start, _) in zip(ids, offsets) if start >= end]
        source = ids[len(head) : len(ids) - len(tail)]
        parts.append((special + head, source, tail))
    return parts


def prompt_ids(tokenizer: Any, examples: list[Example], template: str | None, *, causal: bool) -> list[list[int]]:
    """Untruncated prompt ids, token for token what the causal / seq2seq format feeds the model.

    For serving, which checks lengths itself instead of truncating; ``template=None`` is the
    format's default.
    """
    template = template or (CAUSAL_TEMPLATE if causal else SEQ2SEQ_TEMPLATE)
    before, after = _split_template(template)
    if causal:
        parts = causal_prompt_parts(tokenizer, examples, before, after, _special_prefix(tokenizer))
        return [head + source + tail for head, source, tail in parts]
    return tokenizer([before + example.text + after for example in examples])["input_ids"]
