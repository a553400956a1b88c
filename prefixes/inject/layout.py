"""What a model's prefixes look like (``PrefixLayout``: sites, kv heads, head size) and how they
reach its attention (``Attachment``: the mechanism, the attention modules by site, their windows).

Both are measured by ``prefixes.inject.trace`` from one tiny forward, never guessed from names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from torch import nn

Mechanism = Literal["attention", "cache"]


@dataclass(frozen=True)
class PrefixLayout:
    """Where prefixes go in one model: one site per attention call, in call order."""

    site_kinds: tuple[Literal["self", "cross"], ...]
    num_kv_heads: int
    head_dim: int

    @property
    def num_sites(self) -> int:
        return len(self.site_kinds)

    @property
    def site_width(self) -> int:
        """Numbers per virtual token for one site: key and value."""
        return 2 * self.num_kv_heads * self.head_dim

    def to_dict(self) -> dict:
        return {**asdict(self), "site_kinds": list(self.site_kinds)}

    @classmethod
    def from_dict(cls, data: dict) -> PrefixLayout:
        return cls(tuple(data["site_kinds"]), int(data["num_kv_heads"]), int(data["head_dim"]))


@dataclass(frozen=True)
class Attachment:
    """How prefixes reach one model: the mechanism, attention modules by site, each site's window."""

    mechanism: Mechanism
    index: dict[nn.Module, int]  # empty for ``cache``: site i is cache layer i
    windows: tuple[int | None, ...]
    cache_class: type | None  # the cache the model fills by itself (``cache`` mechanism)
