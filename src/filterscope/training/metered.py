"""A LightningModule base whose train/val/test loss and accuracy are torchmetrics metrics logged
through Lightning's ``log``."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from filterscope.precision import autocast_off

STAGES = ("train", "val", "test")


class MeteredModule(L.LightningModule):
    """Train/val/test steps scored by cross-entropy on every head :meth:`head_logits` returns;
    :meth:`epoch_metrics` reads an epoch's means; :attr:`tested` holds the last test's.

    ``suffixes`` names several heads scored side by side (the probes of several layers); the
    metric of head ``s`` at stage ``t`` is ``{t}_acc{s}`` / ``{t}_loss{s}``: a torchmetrics
    ``MulticlassAccuracy`` (micro: the fraction of images right) and a ``MeanMetric`` of the
    per-image losses, both in float64 and exact over uneven batches and over every process of a
    distributed run.
    Each is updated at every step (without checking its inputs: no host sync) and logged at each
    epoch's end through ``self.log`` (not to the logger: :class:`EpochHistory` sends whole rows),
    so callbacks can monitor it and, for one head, the progress bar shows it. The test step runs
    with autocast off, so a mixed-precision Trainer's test metrics are float32 measurements.
    """

    def __init__(
        self, num_classes: int, suffixes: Sequence[str] = ("",), label_smoothing: float = 0.0
    ) -> None:
        super().__init__()
        self.suffixes = tuple(suffixes)
        self.label_smoothing = float(label_smoothing)
        self.metrics = nn.ModuleDict()
        for stage in STAGES:
            for suffix in self.suffixes:
                loss = MeanMetric(nan_strategy="disable")
                acc = MulticlassAccuracy(num_classes, average="micro", validate_args=False)
                self.metrics[f"{stage}_loss{suffix}"] = loss.set_dtype(torch.float64)
                self.metrics[f"{stage}_acc{suffix}"] = acc.set_dtype(torch.float64)
        self.tested: dict[str, float] = {}

    def score(
        self, stage: str, logits: Sequence[torch.Tensor], labels: torch.Tensor
    ) -> torch.Tensor:
        """Cross-entropy summed over heads (label-smoothed in training where
        ``label_smoothing`` is set; the metrics stay the plain loss); updates the stage's
        metrics."""
        total = torch.zeros((), device=labels.device)
        smoothing = self.label_smoothing if stage == "train" else 0.0
        for suffix, head_logits in zip(self.suffixes, logits, strict=True):
            losses = F.cross_entropy(head_logits.float(), labels, reduction="none")
            trained = losses
            if smoothing:
                trained = F.cross_entropy(
                    head_logits.float(), labels, reduction="none", label_smoothing=smoothing
                )
            self.metrics[f"{stage}_loss{suffix}"].update(losses.detach())
            self.metrics[f"{stage}_acc{suffix}"].update(head_logits.detach(), labels)
            total = total + trained.mean()
        return total

    def _log_epoch(self, stage: str) -> None:
        """The stage's metric objects, through ``self.log`` once per epoch (Lightning computes,
        syncs and resets them): logging them at every step cost the 13-probe pass 38 %."""
        self.log_dict(
            {name: self.metrics[name] for name in self._names(stage)},
            on_step=False,
            on_epoch=True,
            prog_bar=len(self.suffixes) == 1,
            logger=False,
        )

    def _names(self, stage: str) -> list[str]:
        return [f"{stage}_{kind}{suffix}" for suffix in self.suffixes for kind in ("loss", "acc")]

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
        """Scored in float32 whatever the Trainer's mixed precision: training and validation
        may run in bf16, the test accuracy is a measurement."""
        with autocast_off(batch[0].device):
            self._step("test", batch)

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self.tested = self.epoch_metrics("test")
        self._log_epoch("test")

    def epoch_metrics(self, stage: str) -> dict[str, float]:
        """``{stage}_loss{suffix}`` and ``{stage}_acc{suffix}`` of the current epoch of ``stage``
        (before Lightning resets them at its end), over every process of a distributed run (a
        collective call: every rank makes it)."""
        return {name: float(self.metrics[name].compute()) for name in self._names(stage)}
