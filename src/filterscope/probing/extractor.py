"""Field matrices of every filter of every probed layer, in one pass over the test set (Phase 3)."""

from __future__ import annotations

from collections.abc import Mapping

import lightning as L
import torch

from filterscope.analysis.fields import FieldAccumulator, filter_fields
from filterscope.models import CutModel
from filterscope.precision import autocast_off


class FieldExtractor(L.LightningModule):
    """Runs the frozen backbone once per test batch and feeds every layer's field accumulator.

    ``weights[l]`` is the probe weight ``(K, C_l, H_l, W_l)``; ``biases[l]`` its bias or None. Also
    scores the probe rebuilt from the fields (``sum_f z_f + b``), which must match the probe.
    Everything, the backbone forward included, runs in float32 whatever autocast is on.
    """

    def __init__(
        self,
        backbone: CutModel,
        weights: Mapping[int, torch.Tensor],
        biases: Mapping[int, torch.Tensor | None],
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = backbone.requires_grad_(False).eval()
        if channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        self.layers = sorted(weights)
        self.weights = torch.nn.ParameterList(
            torch.nn.Parameter(weights[layer].float(), requires_grad=False) for layer in self.layers
        )
        self.biases = dict(biases)
        self.accumulators: dict[int, FieldAccumulator] = {}
        self.probe_correct: dict[int, torch.Tensor] = {}

    def on_test_start(self) -> None:
        self.backbone.eval()
        for layer, weight in zip(self.layers, self.weights, strict=True):
            self.accumulators[layer] = FieldAccumulator(
                weight.shape[1], weight.shape[0], self.device
            )
            self.probe_correct[layer] = torch.zeros((), dtype=torch.long, device=self.device)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        with autocast_off(x.device):
            self._measure(x.float(), y)

    def _measure(self, x: torch.Tensor, y: torch.Tensor) -> None:
        features = self.backbone.cut_points(x, self.layers)
        for layer, weight, feats in zip(self.layers, self.weights, features, strict=True):
            z = filter_fields(feats, weight)
            self.accumulators[layer].update(z, y)
            logits = z.sum(1)
            bias = self.biases.get(layer)
            if bias is not None:
                logits = logits + bias.to(logits)  # bias: float32 (ProbeHeads.biases)
            self.probe_correct[layer] += (logits.argmax(1) == y).sum()

    def probe_accuracy(self, layer: int) -> float:
        """Test accuracy of the probe rebuilt from its filters' fields."""
        return float(self.probe_correct[layer]) / self.accumulators[layer].count
