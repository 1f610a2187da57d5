"""The backbone contract: conv blocks whose outputs are the probe's cut points, then a head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Backbone(nn.Module):
    """A CNN split into ``stem -> blocks[0..L-1] -> head``.

    Block ``l`` (1-based) ends at the cut point of docs/method.md: after its conv, BatchNorm, ReLU
    and, where one follows, max-pool. The head maps the flattened output of the last block to
    logits.
    """

    def __init__(self, stem: nn.Module, blocks: Sequence[nn.Module], head: nn.Module) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.head = head

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x.flatten(1))

    def cut_points(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """Activations ``a_l(x)`` at the given 1-based layers, in the order given (one pass)."""
        wanted = set(layers)
        out: dict[int, torch.Tensor] = {}
        x = self.stem(x)
        for index, block in enumerate(self.blocks[: max(layers)], start=1):
            x = block(x)
            if index in wanted:
                out[index] = x
        return [out[layer] for layer in layers]

    @torch.no_grad()
    def cut_shapes(self, image_shape: Sequence[int]) -> list[tuple[int, int, int]]:
        """``(C_l, H_l, W_l)`` of every cut point for one input of ``image_shape``."""
        was_training = self.training
        self.eval()
        try:
            param = next(self.parameters())
            x = torch.zeros(1, *image_shape, device=param.device, dtype=param.dtype)
            feats = self.cut_points(x, range(1, self.num_layers + 1))
        finally:
            self.train(was_training)
        return [tuple(f.shape[1:]) for f in feats]
