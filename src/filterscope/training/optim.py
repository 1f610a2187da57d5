"""Optimisers and learning-rate schedules shared by backbone training and probing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from filterscope.errors import ConfigError
from filterscope.schemas.loop import OPTIMIZERS, SCHEDULES


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: Any) -> torch.optim.Optimizer:
    """SGD (optionally Nesterov), Adam or AdamW (decoupled weight decay) from ``cfg``'s
    optimizer, lr, momentum, weight decay."""
    kind = str(getattr(cfg, "optimizer", "sgd"))
    if kind == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=bool(cfg.nesterov) and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
        )
    if kind in ("adam", "adamw"):
        adam = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
        return adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer {kind!r}; choose one of {', '.join(OPTIMIZERS)}")


def build_schedule(
    optimizer: torch.optim.Optimizer, cfg: Any, total_steps: int = 1
) -> dict[str, Any]:
    """The schedule as Lightning takes it: per epoch ``cosine`` over ``cfg.epochs``,
    ``exponential`` by ``cfg.lr_decay`` or ``constant``; or per step ``onecycle`` over
    ``total_steps`` (up to ``cfg.lr`` over the first ``cfg.warmup`` of them, then down along a
    cosine, as torch's OneCycleLR)."""
    kind = str(getattr(cfg, "schedule", "exponential"))
    if kind == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=float(cfg.lr),
            total_steps=max(1, int(total_steps)),
            pct_start=float(cfg.warmup),
        )
        return {"scheduler": scheduler, "interval": "step"}
    if kind == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, cfg.epochs))
    elif kind == "exponential":
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
    elif kind == "constant":
        scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    else:
        raise ConfigError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
    return {"scheduler": scheduler, "interval": "epoch"}


def optimizers(params: Iterable[torch.nn.Parameter], cfg: Any, module: Any) -> dict[str, Any]:
    """``module.configure_optimizers``' answer for ``params`` under loop ``cfg``: the optimiser
    and its schedule (``onecycle`` spans the fit's ``estimated_stepping_batches``)."""
    optimizer = build_optimizer(params, cfg)
    onecycle = str(getattr(cfg, "schedule", "")) == "onecycle"
    steps = module.trainer.estimated_stepping_batches if onecycle else 1
    return {"optimizer": optimizer, "lr_scheduler": build_schedule(optimizer, cfg, steps)}
