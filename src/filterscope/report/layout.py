"""Pure layout helpers for the report figures: cluster ordering, cell classes, filter choice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from filterscope.analysis.layer import FilterAnalysis

CELL_BELOW = 0
"""Cell class of an element at or below the threshold."""
CELL_CLUSTER = 1
"""Cell class of an above-threshold element inside a cluster block."""
CELL_NOISE = 2
"""Cell class of an above-threshold element outside every cluster block (noise)."""


def _cluster_ids(clusters: Sequence[Sequence[int]], num_classes: int) -> np.ndarray:
    """Index of each label's cluster (``-1`` for none); checks range and disjointness."""
    ids = np.full(num_classes, -1, dtype=np.int64)
    for n, cluster in enumerate(clusters):
        for label in cluster:
            if not 0 <= label < num_classes:
                raise ValueError(f"label {label} out of range for {num_classes} classes")
            if ids[label] >= 0:
                raise ValueError(f"label {label} lies in more than one cluster")
            ids[label] = n
    return ids


def cluster_order(clusters: Sequence[Sequence[int]], num_classes: int) -> list[int]:
    """Labels of the clusters first (in the given cluster order, each ascending), then the rest
    ascending, so that each cluster becomes a contiguous diagonal block after ``permute``."""
    ids = _cluster_ids(clusters, num_classes)
    inside = [label for cluster in clusters for label in sorted(cluster)]
    return inside + np.flatnonzero(ids < 0).tolist()


def cell_classes(thresholded: np.ndarray, clusters: Sequence[Sequence[int]]) -> np.ndarray:
    """Int ``(K, K)`` cell classes in the original label order: ``CELL_BELOW``, ``CELL_CLUSTER``
    (above threshold, ``a`` and ``j`` in one cluster) or ``CELL_NOISE`` (above threshold elsewhere).
    """
    b = np.asarray(thresholded, dtype=bool)
    if b.ndim != 2 or b.shape[0] != b.shape[1]:
        raise ValueError(f"thresholded must be a square (K, K) matrix; got shape {b.shape}")
    ids = _cluster_ids(clusters, b.shape[0])
    same = (ids[:, None] == ids[None, :]) & (ids[:, None] >= 0)
    out = np.full(b.shape, CELL_BELOW, dtype=np.int64)
    out[b & same] = CELL_CLUSTER
    out[b & ~same] = CELL_NOISE
    return out


def permute(matrix: np.ndarray, order: Sequence[int]) -> np.ndarray:
    """``matrix`` with rows and columns both taken in ``order``."""
    idx = np.asarray(order, dtype=np.int64)
    return np.asarray(matrix)[np.ix_(idx, idx)]


def choose_filters(
    analyses: Sequence[FilterAnalysis], count_random: int, seed: int
) -> dict[str, list[int]]:
    """Filter indices to draw, among the non-silent filters of a layer.

    ``most``: max labels in clusters, ties -> less noise -> lower index. ``least``: among the
    others, min labels in clusters, ties -> more noise -> lower index. ``random``: up to
    ``count_random`` further filters (ascending) drawn by ``np.random.default_rng(seed)``.
    An all-silent layer gives empty lists.
    """
    if count_random < 0:
        raise ValueError(f"count_random must be >= 0; got {count_random}")
    live = [
        (sum(len(s) for s in a.clusters), a.noise, f)
        for f, a in enumerate(analyses)
        if not a.silent
    ]
    chosen: dict[str, list[int]] = {"most": [], "least": [], "random": []}
    if not live:
        return chosen
    most = min(live, key=lambda t: (-t[0], t[1], t[2]))
    chosen["most"] = [most[2]]
    others = [t for t in live if t is not most]
    if others:
        least = min(others, key=lambda t: (t[0], -t[1], t[2]))
        chosen["least"] = [least[2]]
        pool = [t[2] for t in others if t is not least]
        rng = np.random.default_rng(seed)
        picked = rng.choice(pool, size=min(count_random, len(pool)), replace=False)
        chosen["random"] = sorted(int(f) for f in picked)
    return chosen
