"""The prefix module: learned keys/values per attention site, and how they start.

With reparameterisation, a small MLP maps P learned embeddings to the prefix while training (this
stabilises optimisation); for inference the MLP's output is folded into a plain tensor. Without
it (P-tuning v2), the flat per-site prefix is the parameter itself.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from prefixes.inject.layout import PrefixLayout
from prefixes.methods.prefix.config import PrefixConfig


class PrefixEncoder(nn.Module):
    """One task's prefix. ``forward()`` returns (P, sites, 2, kv_heads, head_dim); 2 = key, value."""

    def __init__(self, config: PrefixConfig, layout: PrefixLayout, hidden_size: int, *, folded: bool = False):
        """``folded``: hold an inference prefix as the parameter itself; ``config`` still says how it was
        trained, so a folded MLP prefix is saved (and published) as prefix tuning, not as P-tuning v2."""
        super().__init__()
        self.config = config
        self.layout = layout
        self.through_mlp = config.reparameterization and not folded
        width = layout.num_sites * layout.site_width
        if self.through_mlp:
            # Default nn.Embedding / nn.Linear initialisation, as in the reference implementations.
            self.embedding = nn.Parameter(torch.randn(config.prefix_length, hidden_size))
            self.mlp = nn.Sequential(
                nn.Linear(hidden_size, config.prefix_hidden_size),
                nn.Tanh(),
                nn.Linear(config.prefix_hidden_size, width),
            )
        else:
            self.prefix = nn.Parameter(torch.randn(config.prefix_length, width))
        self.dropout = nn.Dropout(config.prefix_dropout)

    @property
    def length(self) -> int:
        return self.config.prefix_length

    def forward(self) -> torch.Tensor:
        # The MLP runs on P rows once per forward, never on batch x P rows: the result is shared
        # by every example of the batch.
        flat = self.mlp(self.embedding) if self.through_mlp else self.prefix
        layout = self.layout
        return self.dropout(flat).view(self.length, layout.num_sites, 2, layout.num_kv_heads, layout.head_dim)

    @torch.no_grad()
    def folded(self) -> torch.Tensor:
        """The inference prefix: the MLP's output without dropout, detached."""
        was_training = self.training
        self.eval()
        try:
            return self().detach().clone().contiguous()
        finally:
            self.train(was_training)

    @torch.no_grad()
    def initialize(self, activations: torch.Tensor | None = None, site_scale: torch.Tensor | None = None) -> None:
        """Start from the configured init.

        ``activations`` (P, sites, 2, kv, D): real tokens' keys/values, for init='text' / 'vocab_sample'.
        ``site_scale`` (sites, 2): the std of the model's own keys and values per site. A flat
        random prefix is drawn at that scale: N(0, 1) values can be 25x the size of a layer's real
        values (SmolLM2's first layers) and swamp the residual stream before training starts.
        """
        init = self.config.init
        if init == "random":
            if not self.through_mlp and site_scale is not None:
                shaped = self.prefix.view(self.length, self.layout.num_sites, 2, -1)
                shaped.mul_(site_scale.to(shaped.dtype)[None, :, :, None])
            return  # otherwise the constructor's initialisation
        target = torch.zeros(self.length, self.layout.num_sites * self.layout.site_width)
        if init in ("text", "vocab_sample"):
            target = cast(torch.Tensor, activations).reshape(self.length, -1)
        if not self.through_mlp:
            self.prefix.copy_(target)
            return
        last = cast(nn.Linear, self.mlp[-1])
        if init == "zero":
            last.weight.zero_()
            last.bias.zero_()
            return
        # Make the MLP output the activations exactly: with hidden >= P the P hidden rows are
        # linearly independent, so the minimum-norm least-squares solution fits them exactly.
        hidden = self.mlp[:-1](self.embedding).double()  # (P, prefix_hidden)
        solution = torch.linalg.lstsq(hidden, target.double(), driver="gelsd").solution
        last.weight.copy_(solution.T.to(last.weight.dtype))
        last.bias.zero_()


def text_activations(per_site: list[tuple[torch.Tensor, torch.Tensor]], length: int) -> torch.Tensor:
    """Arrange recorded keys/values of real tokens into a prefix (length, sites, 2, kv, D).

    ``per_site``: (key, value) per site, each (1, kv, T, D). A text shorter than the prefix is
    cycled, as prompt-tuning's text init repeats its tokens.
    """
    stacked = torch.stack([torch.stack([k[0], v[0]]) for k, v in per_site])  # (sites, 2, kv, T, D)
    tokens = stacked.shape[3]
    index = torch.arange(length) % tokens
    return stacked[:, :, :, index].permute(3, 0, 1, 2, 4).contiguous()


def prefix_from_folded(config: PrefixConfig, layout: PrefixLayout, folded: torch.Tensor) -> PrefixEncoder:
    """A flat encoder holding a folded prefix (what inference artifacts load into)."""
    encoder = PrefixEncoder(config, layout, hidden_size=1, folded=True)
    with torch.no_grad():
        encoder.prefix.copy_(folded.reshape(folded.shape[0], -1))
    return encoder


def interpolate(alpha: float, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """``alpha * first + (1 - alpha) * second`` for two folded prefixes of one shape."""
    if first.shape != second.shape:
        raise ValueError(
            f"cannot interpolate prefixes of shapes {tuple(first.shape)} and {tuple(second.shape)}: "
            "they need the same prefix length and base model"
        )
    return alpha * first + (1.0 - alpha) * second
