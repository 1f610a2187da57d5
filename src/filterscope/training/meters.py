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

    def totals(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """``[loss sum, correct, count]`` as one float64 tensor on ``device``: meters of several
        processes add up."""
        sums = (self._loss, self._correct, self._count)
        return torch.stack([torch.as_tensor(v, dtype=torch.float64, device=device) for v in sums])

    @staticmethod
    def means(totals: torch.Tensor) -> dict[str, float]:
        """Mean loss and accuracy of :meth:`totals` (empty -> nan)."""
        loss, correct, count = totals.tolist()
        if count == 0:
            return {"loss": float("nan"), "acc": float("nan")}
        return {"loss": loss / count, "acc": correct / count}
