"""Reading and checking a safetensors file's header without torch.

The format is an 8-byte little-endian header length, a JSON header mapping each tensor name to its
dtype, shape and byte range, then the tensor bytes. The checks are the ones `safetensors` makes
before it hands out a tensor, so a file accepted here is one the model's loader can open.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from prefixes.registry.errors import ArtifactError

# Bytes per element of every dtype safetensors writes.
DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}
# The same limit safetensors applies, so a damaged length cannot make us read gigabytes.
MAX_HEADER_BYTES = 100_000_000
_METADATA_KEY = "__metadata__"


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it."""

    dtype: str
    shape: tuple[int, ...]


def read_header(path: Path) -> dict[str, TensorInfo]:
    """The tensors of the safetensors file at `path`; `ArtifactError` when it would not load."""
    with open(path, "rb") as handle:
        file_size = os.fstat(handle.fileno()).st_size
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise _damaged(path, f"it is {file_size} bytes, shorter than the 8-byte header length")
        (header_size,) = struct.unpack("<Q", prefix)
        if header_size > MAX_HEADER_BYTES or 8 + header_size > file_size:
            raise _damaged(
                path, f"its header claims {header_size} bytes but the file has {file_size} "
                "(truncated or not a safetensors file)"
            )
        raw = handle.read(header_size)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise _damaged(path, f"its header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise _damaged(path, "its header is not a JSON object")
    header.pop(_METADATA_KEY, None)
    tensors = {name: _tensor_info(path, name, spec) for name, spec in header.items()}
    _check_byte_ranges(path, header, file_size - 8 - header_size)
    return tensors


def _tensor_info(path: Path, name: str, spec: object) -> TensorInfo:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
        raise _damaged(path, f"tensor {name!r} needs exactly dtype, shape and data_offsets")
    dtype, shape = spec["dtype"], spec["shape"]
    if dtype not in DTYPE_SIZES:
        raise _damaged(path, f"tensor {name!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
        raise _damaged(path, f"tensor {name!r} has shape {shape!r}, not a list of sizes")
    offsets = spec["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        raise _damaged(path, f"tensor {name!r} has data_offsets {offsets!r}, not [begin, end]")
    begin, end = offsets
    expected = math.prod(shape) * DTYPE_SIZES[dtype]
    if end - begin != expected:
        raise _damaged(
            path, f"tensor {name!r} of shape {shape} {dtype} needs {expected} bytes, its range "
            f"[{begin}, {end}] holds {end - begin}"
        )
    return TensorInfo(dtype=dtype, shape=tuple(shape))


def _check_byte_ranges(path: Path, header: dict, data_size: int) -> None:
    """Tensors must tile the data section exactly: no gap, no overlap, nothing missing."""
    position = 0
    for name, spec in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        begin, end = spec["data_offsets"]
        if begin != position:
            raise _damaged(path, f"tensor {name!r} starts at byte {begin}, expected {position}")
        position = end
    if position != data_size:
        raise _damaged(
            path, f"the tensors hold {position} bytes but the data section has {data_size} "
            "(truncated or extended)"
        )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _damaged(path: Path, detail: str) -> ArtifactError:
    return ArtifactError(
        f"{path} would not load: {detail}; export the artifact again with save_pretrained"
    )
