"""Small real models for tests."""

from __future__ import annotations

import torch

from filterscope.models import CutModel, build_model
from filterscope.models.cuts import default_nodes

# A VGG-11 at an eighth of the width, on CIFAR-sized images.
VGG = {"name": "vgg", "depth": 11, "width": 0.125, "batch_norm": True}
SHAPE = (3, 32, 32)


def cut(model_cfg: dict, shape: tuple[int, int, int] = SHAPE, pool: int | None = None) -> CutModel:
    """``model_cfg`` built under seed 0, cut at its default nodes (pooled to ``pool``, if given)."""
    torch.manual_seed(0)
    model = build_model(model_cfg, shape, 10)
    return CutModel(model, default_nodes(model), None if pool is None else (pool, pool))
