"""Training a classifier end to end as a LightningModule."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from filterscope.training.metered import MeteredModule
from filterscope.training.optim import optimizers


def strided_pointwise(model: nn.Module) -> bool:
    """Whether ``model`` has a 1x1 conv of stride > 1 (a ResNet's down-sampling shortcut).

    On the CPU, torch 2.14's oneDNN backward of such a conv in channels-last memory corrupts the
    heap for odd batch sizes (a segfault or ``free(): invalid next size``; e.g.
    ``Conv2d(8, 16, 1, stride=2)`` on a channels-last ``(39, 8, 32, 32)`` input), so
    :class:`Classifier` trains such a model in the default memory format there."""
    return any(
        isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and max(m.stride) > 1
        for m in model.modules()
    )


def _on_cpu(train_cfg: Any) -> bool:
    return train_cfg.accelerator == "cpu" or not torch.cuda.is_available()


class Classifier(MeteredModule):
    """Trains any classifier module end to end with cross-entropy (docs/method.md, Phase 1).

    ``train.channels_last`` puts the model in channels-last memory, except on the CPU for a
    model :func:`strided_pointwise` finds, whose batches are then made contiguous instead."""

    def __init__(self, backbone: nn.Module, train_cfg: Any, num_classes: int) -> None:
        super().__init__(num_classes, label_smoothing=float(train_cfg.get("label_smoothing", 0.0)))
        self.backbone = backbone
        self.train_cfg = train_cfg
        self.contiguous_inputs = False
        if train_cfg.channels_last and _on_cpu(train_cfg) and strided_pointwise(backbone):
            self.contiguous_inputs = True
        elif train_cfg.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        # Kept outside the module tree so the state dict keeps the plain backbone's keys.
        forward = torch.compile(backbone) if train_cfg.compile else backbone
        object.__setattr__(self, "_forward", forward)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x.contiguous() if self.contiguous_inputs else x)

    def head_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self(x)]

    def configure_optimizers(self) -> dict[str, Any]:
        return optimizers(self.backbone.parameters(), self.train_cfg, self)
