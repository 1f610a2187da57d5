"""Linear probes at several cut points of a frozen backbone, trained in one pass (Phase 2)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from filterscope.models import CutModel
from filterscope.training.metered import MeteredModule
from filterscope.training.optim import optimizers


def layer_suffix(layer: int) -> str:
    """Metric/file suffix of a 1-based layer: ``_layer_03``."""
    return f"_layer_{layer:02d}"


def _logits(head: nn.Linear, features: torch.Tensor) -> torch.Tensor:
    """``head`` on the features flattened in (C, H, W) order. Channels-last features are read as
    stored, in (H, W, C) order, against the weight permuted to match: that copies the weight, not
    the (batch-times larger) features."""
    if features.is_contiguous():
        return head(features.flatten(1))
    _, c, h, w = features.shape
    weight = head.weight.view(-1, c, h, w).permute(0, 2, 3, 1).flatten(1)
    return F.linear(features.permute(0, 2, 3, 1).flatten(1), weight, head.bias)


class ProbeHeads(MeteredModule):
    """One bias-free linear layer per probed cut point on the flattened ``a_l(x)``.

    The backbone is frozen and stays in eval mode (BatchNorm running statistics) even while the
    heads train; one backbone forward per batch feeds every head.
    """

    def __init__(
        self,
        backbone: CutModel,
        layers: Sequence[int],
        shapes: Sequence[Sequence[int]],
        num_classes: int,
        probe_cfg: Any,
    ) -> None:
        super().__init__(num_classes, suffixes=[layer_suffix(layer) for layer in layers])
        self.backbone = backbone.requires_grad_(False).eval()
        self.layers = list(layers)
        self.shapes = [tuple(int(v) for v in shape) for shape in shapes]
        self.heads = nn.ModuleList(
            nn.Linear(math.prod(shape), num_classes, bias=bool(probe_cfg.bias))
            for shape in self.shapes
        )
        self.probe_cfg = probe_cfg

    def train(self, mode: bool = True) -> ProbeHeads:
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        with torch.no_grad():
            features = self.backbone.cut_points(x, self.layers)
        return [_logits(head, f) for head, f in zip(self.heads, features, strict=True)]

    def head_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self(x)

    def configure_optimizers(self) -> dict[str, Any]:
        return optimizers(self.heads.parameters(), self.probe_cfg, self)

    def weights(self) -> dict[int, torch.Tensor]:
        """``W_l`` reshaped to ``(K, C_l, H_l, W_l)`` per layer, on the CPU in float32."""
        return {
            layer: head.weight.detach().float().cpu().reshape(head.out_features, *shape)
            for layer, head, shape in zip(self.layers, self.heads, self.shapes, strict=True)
        }

    def biases(self) -> dict[int, torch.Tensor | None]:
        """Each probe's bias (None without one), on the CPU in float32."""
        return {
            layer: None if head.bias is None else head.bias.detach().float().cpu()
            for layer, head in zip(self.layers, self.heads, strict=True)
        }
