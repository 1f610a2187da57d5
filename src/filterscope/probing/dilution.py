"""AFCC-diluted probes of every layer, scored on the test set in one backbone pass per batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from filterscope.analysis.afcc import dilute
from filterscope.models import CutModel
from filterscope.precision import autocast_off
from filterscope.probing.heads import ProbeHeads, layer_suffix


class DilutedProbes(ProbeHeads):
    """The trained probes with ``W_l[i, f, :, :]`` zeroed wherever ``keep[l][i, f]`` is False.

    ``weights[l]`` is the probe weight ``(K, C_l, H_l, W_l)``, ``biases[l]`` its bias (None
    without one; kept as it is), ``keep[l]`` the bool ``(K, C_l)`` AFCC mask. ``trainer.test``
    scores every layer's diluted probe in one frozen-backbone forward per batch, in float32
    whatever autocast is on.
    """

    def __init__(
        self,
        backbone: CutModel,
        weights: Mapping[int, torch.Tensor],
        biases: Mapping[int, torch.Tensor | None],
        keep: Mapping[int, np.ndarray],
        probe_cfg: Any,
    ) -> None:
        layers = sorted(weights)
        num_classes = {int(weights[layer].shape[0]) for layer in layers}
        if len(num_classes) != 1:
            raise ValueError(f"probes disagree on the number of outputs: {sorted(num_classes)}")
        shapes = [tuple(weights[layer].shape[1:]) for layer in layers]
        super().__init__(backbone, layers, shapes, num_classes.pop(), probe_cfg)
        self.kept_fraction: dict[int, float] = {}
        with torch.no_grad():
            for layer, head in zip(layers, self.heads, strict=True):
                diluted, self.kept_fraction[layer] = dilute(weights[layer].float(), keep[layer])
                head.weight.copy_(diluted.flatten(1))
                if head.bias is not None:
                    head.bias.copy_(biases[layer])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        with autocast_off(x.device):
            return super().forward(x.float())

    def test_accuracy(self) -> dict[int, float]:
        """Each layer's diluted-probe accuracy in the last ``trainer.test``."""
        return {layer: self.tested[f"test_acc{layer_suffix(layer)}"] for layer in self.layers}
