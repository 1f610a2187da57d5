"""A LightningModule base that keeps per-epoch loss/accuracy meters for train, val and test."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
import torch.nn.functional as F

from filterscope.training.meters import EpochMeter

STAGES = ("train", "val", "test")


class MeteredModule(L.LightningModule):
    """Train/val/test steps scored by cross-entropy on every head :meth:`head_logits` returns;
    :meth:`epoch_metrics` reads an epoch's means; :attr:`tested` holds the last test's.

    ``suffixes`` names several heads scored side by side (the probes of several layers); the
    metric of head ``s`` at stage ``t`` is ``{t}_acc{s}`` / ``{t}_loss{s}``.
    """

    def __init__(self, suffixes: Sequence[str] = ("",)) -> None:
        super().__init__()
        self.suffixes = tuple(suffixes)
        self.meters = {(t, s): EpochMeter() for t in STAGES for s in self.suffixes}
        self.tested: dict[str, float] = {}

    def score(
        self, stage: str, logits: Sequence[torch.Tensor], labels: torch.Tensor
    ) -> torch.Tensor:
        """Cross-entropy summed over heads; updates the stage's meters."""
        total = torch.zeros((), device=labels.device)
        for suffix, head_logits in zip(self.suffixes, logits, strict=True):
            loss = F.cross_entropy(head_logits.float(), labels)
            self.meters[(stage, suffix)].update(loss, head_logits, labels)
            total = total + loss
        return total

    def head_logits(self, x: torch.Tensor) -> Sequence[torch.Tensor]:
        """Logits of every head, in ``suffixes`` order."""
        raise NotImplementedError

    def _step(self, stage: str, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return self.score(stage, self.head_logits(x), y)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        return self._step("train", batch)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        self._step("val", batch)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        self._step("test", batch)

    def _reset(self, stage: str) -> None:
        for suffix in self.suffixes:
            self.meters[(stage, suffix)].reset()

    def on_train_epoch_start(self) -> None:
        self._reset("train")

    def on_validation_epoch_start(self) -> None:
        self._reset("val")

    def on_test_epoch_start(self) -> None:
        self._reset("test")

    def on_test_epoch_end(self) -> None:
        self.tested = self.epoch_metrics("test")

    def epoch_metrics(self, stage: str) -> dict[str, float]:
        """``{stage}_loss{suffix}`` and ``{stage}_acc{suffix}`` of the last epoch of ``stage``,
        over every process of a distributed run (a collective call: every rank makes it)."""
        totals = torch.stack([self.meters[(stage, s)].totals(self.device) for s in self.suffixes])
        if self._trainer is not None:
            totals = self.trainer.strategy.reduce(totals, reduce_op="sum")
        out: dict[str, float] = {}
        for suffix, row in zip(self.suffixes, totals, strict=True):
            means = EpochMeter.means(row)
            out[f"{stage}_loss{suffix}"] = means["loss"]
            out[f"{stage}_acc{suffix}"] = means["acc"]
        return out
