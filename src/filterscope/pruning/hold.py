"""Holding connection masks on a model's layers while it trains, with torch's own pruning.

``torch.nn.utils.prune`` keeps the trained values in ``weight_orig`` and recomputes ``weight =
weight_orig * mask`` before every forward pass, so a pruned weight is exactly zero in every
step whatever the optimiser (momentum, weight decay) does to ``weight_orig``; ``release`` makes
the pruning permanent (a plain ``weight`` again, for saving)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune


def hold(module: nn.Module, keep: np.ndarray | torch.Tensor) -> None:
    """Prune ``module.weight`` (``(out, in, ...)``: a conv or linear layer) to the connections
    ``keep`` (bool ``(out, in)``) marks: connection ``[j, i]`` keeps the whole kernel
    ``weight[j, i, ...]``. A linear layer on a flattened ``(C, H, W)`` map (weight ``(out,
    C*H*W)``) takes ``keep`` ``(out, C)``: connection ``[j, c]`` keeps the ``H*W`` weights that
    read channel ``c``."""
    weight = module.weight
    mask = torch.as_tensor(keep, dtype=torch.bool, device=weight.device)
    if mask.dim() == 2 and weight.dim() == 2 and mask.shape[0] == weight.shape[0]:
        group, rest = divmod(weight.shape[1], max(1, mask.shape[1]))
        if rest == 0 and group > 1:
            mask = mask.repeat_interleave(group, dim=1)
    if mask.dim() != 2 or tuple(mask.shape) != tuple(weight.shape[:2]):
        raise ValueError(
            f"a mask of shape {tuple(torch.as_tensor(keep).shape)} does not match the connections"
            f" {tuple(weight.shape[:2])} of a weight of shape {tuple(weight.shape)}"
        )
    full = mask.reshape(*mask.shape, *([1] * (weight.dim() - 2))).expand_as(weight)
    prune.custom_from_mask(module, "weight", full.to(weight.dtype))


def release(module: nn.Module) -> None:
    """Make ``module``'s pruning permanent: ``weight`` becomes a plain parameter holding the
    masked values."""
    prune.remove(module, "weight")


def held_fraction(module: nn.Module) -> float:
    """The fraction of ``module.weight``'s entries its held mask keeps (1.0 without one)."""
    mask = getattr(module, "weight_mask", None)
    return 1.0 if mask is None else float(mask.double().mean())
