"""Epoch-level loss/accuracy sums kept on the device: one host sync per epoch, not per step."""

from __future__ import annotations

import torch


class EpochMeter:
    """Accumulates summed loss and correct predictions over an epoch."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._loss: torch.Tensor | float = 0.0
        self._correct: torch.Tensor | int = 0
        self._count = 0

    def update(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """``loss`` is the batch mean; ``logits`` (B, K); ``labels`` (B,)."""
        n = labels.shape[0]
        self._loss = self._loss + loss.detach().float() * n
        self._correct = self._correct + (logits.detach().argmax(1) == labels).sum()
        self._count += n

    def compute(self) -> dict[str, float]:
        """Mean loss and accuracy since the last reset (empty -> nan)."""
        if self._count == 0:
            return {"loss": float("nan"), "acc": float("nan")}
        return {
            "loss": float(self._loss) / self._count,
            "acc": float(self._correct) / self._count,
        }
