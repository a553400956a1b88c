"""Reading and checking a safetensors file's header without torch.

The format is an 8-byte little-endian header length, a JSON header mapping each tensor name to its
dtype, shape and byte range, then the tensor bytes. The checks are the ones `safetensors` makes
before it hands out a tensor, so a file accepted here is one the model's loader can open; the
values themselves are checked for NaN and infinity, which load fine and predict nothing.
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
# The exponent bits of each float dtype, read as an unsigned integer of the same width.
_EXPONENT_MASKS = {"F16": 0x7C00, "BF16": 0x7F80, "F32": 0x7F800000, "F64": 0x7FF0000000000000}
_METADATA_KEY = "__metadata__"


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it."""

    dtype: str
    shape: tuple[int, ...]
    offsets: tuple[int, int]  # [begin, end) in the data section


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
    header = _parse_json(path, raw)
    _check_metadata(path, header.pop(_METADATA_KEY, None))
    tensors = {name: _tensor_info(path, name, spec) for name, spec in header.items()}
    _check_byte_ranges(path, header, file_size - 8 - header_size)
    return tensors


def _parse_json(path: Path, raw: bytes) -> dict:
    """The header as the Rust loader parses it: strict UTF-8 JSON, no NaN, no negative numbers.

    Python's own `json.loads(bytes)` is laxer: it accepts a byte-order mark, UTF-16 and bare
    NaN/Infinity, all of which `safetensors` refuses.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raise _damaged(path, "its header starts with a UTF-8 byte-order mark, which safetensors refuses")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _damaged(path, f"its header is not UTF-8 (UTF-16?), which safetensors refuses ({error})") from None
    try:
        header = json.loads(text, parse_constant=_refuse_constant, parse_int=_unsigned)
    except (ValueError, RecursionError) as error:
        raise _damaged(path, f"its header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise _damaged(path, "its header is not a JSON object")
    for name in header:
        if not _is_utf8(name):
            raise _damaged(path, f"tensor name {name!r} is not valid UTF-8")
    return header


def _refuse_constant(name: str) -> float:
    raise ValueError(f"it holds a bare {name}")


def _unsigned(digits: str) -> int:
    # Every number in a header is a size or an offset (usize): `-0` parses in Python, not in Rust.
    if digits.startswith("-"):
        raise ValueError(f"it holds the negative number {digits}, where only sizes are allowed")
    return int(digits)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")  # a lone surrogate escape (\ud800) parses but is not UTF-8
    except UnicodeEncodeError:
        return False
    return True


def _check_metadata(path: Path, metadata: object) -> None:
    """`__metadata__` is absent, null, or a map of strings to strings: safetensors refuses the rest."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise _damaged(path, f"its __metadata__ must map names to strings, not {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(value, str) or not _is_utf8(key) or not _is_utf8(value):
            raise _damaged(path, f"its __metadata__ must map names to strings, {key!r} is {value!r}")


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
    return TensorInfo(dtype=dtype, shape=tuple(shape), offsets=(begin, end))


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


def non_finite_counts(path: Path, tensors: dict[str, TensorInfo]) -> dict[str, tuple[int, int]]:
    """(NaN or infinite values, all values) of every float tensor that holds a NaN or an infinity.

    Exponent bits all set means NaN or infinity in every IEEE format, and in bfloat16, which
    numpy has no type for; the data is read once (folded prefixes are small).
    """
    import numpy as np  # only publish needs it; registry reads stay light

    with open(path, "rb") as handle:
        (header_size,) = struct.unpack("<Q", handle.read(8))
        handle.seek(8 + header_size)
        data = handle.read()
    found = {}
    for name, info in tensors.items():
        if info.dtype not in _EXPONENT_MASKS:
            continue
        size, mask = DTYPE_SIZES[info.dtype], _EXPONENT_MASKS[info.dtype]
        bits = np.frombuffer(data, dtype=f"<u{size}", count=math.prod(info.shape), offset=info.offsets[0])
        bad = int(np.count_nonzero((bits & mask) == mask))
        if bad:
            found[name] = (bad, bits.size)
    return found


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _damaged(path: Path, detail: str) -> ArtifactError:
    return ArtifactError(
        f"{path} would not load: {detail}; export the artifact again with save_pretrained"
    )
