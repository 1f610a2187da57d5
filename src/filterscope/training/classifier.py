"""Training a classifier end to end as a LightningModule."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from filterscope.training.metered import MeteredModule
from filterscope.training.optim import build_optimizer, build_schedule


class Classifier(MeteredModule):
    """Trains any classifier module end to end with cross-entropy (METHOD.md Phase 1)."""

    def __init__(self, backbone: nn.Module, train_cfg: Any) -> None:
        super().__init__()
        self.backbone = backbone
        self.train_cfg = train_cfg
        if train_cfg.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        # Kept outside the module tree so the state dict keeps the plain backbone's keys.
        forward = torch.compile(backbone) if train_cfg.compile else backbone
        object.__setattr__(self, "_forward", forward)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x)

    def head_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self(x)]

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = build_optimizer(self.backbone.parameters(), self.train_cfg)
        return {"optimizer": optimizer, "lr_scheduler": build_schedule(optimizer, self.train_cfg)}
