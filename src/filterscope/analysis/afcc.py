"""AFCC: keep only the probe connections that match each filter's clusters (arXiv 2501.12880)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from filterscope.analysis.layer import FilterAnalysis


def afcc_mask(analyses: Sequence[FilterAnalysis], num_classes: int) -> np.ndarray:
    """Bool ``(K, F)``: ``keep[i, f]`` iff output ``i`` lies in one of filter ``f``'s clusters."""
    keep = np.zeros((num_classes, len(analyses)), dtype=bool)
    for f, analysis in enumerate(analyses):
        for cluster in analysis.clusters:
            keep[list(cluster), f] = True
    return keep


def dilute(weight: torch.Tensor, keep: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, float]:
    """Zero ``weight[i, f, :, :]`` wherever ``keep[i, f]`` is False.

    ``weight`` is the probe weight reshaped to ``(K, C, H, W)``. Returns the diluted weight (same
    dtype and device) and the fraction of weights kept.
    """
    mask = torch.as_tensor(keep, dtype=torch.bool, device=weight.device)
    if weight.dim() != 4 or tuple(mask.shape) != tuple(weight.shape[:2]):
        raise ValueError(
            f"expected weight (K, C, H, W) and keep (K, C); got "
            f"{tuple(weight.shape)} and {tuple(mask.shape)}"
        )
    diluted = weight.masked_fill(~mask[:, :, None, None], 0)
    return diluted, float(mask.double().mean())
