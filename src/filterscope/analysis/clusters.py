"""Greedy clusters of a thresholded field matrix, its noise, and the cluster-block indicator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from filterscope.analysis.matrices import square_matrix

Cluster = tuple[int, ...]
"""A cluster: its labels, in ascending order."""


def _bool_matrix(b: np.ndarray) -> np.ndarray:
    b = square_matrix(b, "thresholded matrix")
    if b.dtype != np.bool_ and not np.isin(b, (0, 1)).all():
        raise ValueError("thresholded matrix must hold only 0/1 values")
    return b.astype(bool)


def find_clusters(b: np.ndarray) -> list[Cluster]:
    """Disjoint label clusters of a thresholded matrix ``B``, by the greedy rule of docs/method.md.

    Candidates are the labels with ``B[j, j] = 1`` in ascending order; the first unassigned one
    seeds a cluster ``S``, and each later unassigned candidate ``c`` (ascending) joins iff the
    block ``B[S + {c}, S + {c}]`` is all ones. Repeats until every candidate is assigned.
    """
    b = _bool_matrix(b)
    candidates = np.flatnonzero(np.diag(b)).tolist()
    clusters: list[Cluster] = []
    while candidates:
        members = [candidates[0]]
        rest = []
        for c in candidates[1:]:
            trial = [*members, c]
            if b[np.ix_(trial, trial)].all():
                members.append(c)
            else:
                rest.append(c)
        clusters.append(tuple(members))
        candidates = rest
    return clusters


def noise(b: np.ndarray, clusters: Sequence[Cluster]) -> int:
    """Above-threshold elements outside the cluster blocks: ``sum(B) - sum_S |S|^2``."""
    return int(_bool_matrix(b).sum()) - sum(len(s) ** 2 for s in clusters)


def cluster_indicator(clusters: Sequence[Cluster], num_classes: int) -> np.ndarray:
    """Boolean ``(K, K)`` matrix, True at ``[a, j]`` iff ``a`` and ``j`` share a cluster."""
    c = np.zeros((num_classes, num_classes), dtype=bool)
    for s in clusters:
        c[np.ix_(s, s)] = True
    return c
