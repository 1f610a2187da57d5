"""Optimisers and learning-rate schedules shared by backbone training and probing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from filterscope.errors import ConfigError


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: Any) -> torch.optim.Optimizer:
    """SGD (optionally Nesterov) or Adam from ``cfg``'s optimizer, lr, momentum, weight decay."""
    kind = str(getattr(cfg, "optimizer", "sgd"))
    if kind == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=bool(cfg.nesterov) and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
        )
    if kind == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer {kind!r}; choose sgd or adam")


def build_schedule(
    optimizer: torch.optim.Optimizer, cfg: Any
) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-epoch schedule: ``cosine`` over ``cfg.epochs``, ``exponential`` by ``cfg.lr_decay``, or
    ``constant``."""
    kind = str(getattr(cfg, "schedule", "exponential"))
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, cfg.epochs))
    if kind == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)
    if kind == "constant":
        return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    raise ConfigError(f"unknown schedule {kind!r}; choose cosine, exponential or constant")
