"""Connection masks for pruning by the filters' clusters (AFCC, arXiv 2501.12880) and its controls.

A mask is a bool array over connections, ``(out, in)``: for a conv pair ``l -> l+1`` entry
``[j, i]`` stands for the kernel ``K_{l+1}[j, i, :, :]``; for a probe head ``[i, f]`` for
``W[i, f, :, :]`` (``afcc_mask``). The controls keep exactly as many connections as the AFCC mask
of the same layer pair: random clusters with balanced label coverage (the authors' control), and
the largest kernels by L1 norm (magnitude pruning)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from filterscope.analysis.clusters import Cluster

Unclustered = Literal["drop", "keep"]
UNCLUSTERED: tuple[Unclustered, ...] = ("drop", "keep")


def labels_of(clusters: Sequence[Cluster]) -> frozenset[int]:
    """The labels a filter's clusters hold."""
    return frozenset(label for cluster in clusters for label in cluster)


def conv_mask(
    inputs: Sequence[Sequence[Cluster]],
    outputs: Sequence[Sequence[Cluster]],
    unclustered: Unclustered = "drop",
) -> np.ndarray:
    """Bool ``(F_out, F_in)``: keep ``[j, i]`` iff a cluster of input filter ``i`` (layer l) and a
    cluster of output filter ``j`` (layer l+1) share a label.

    ``unclustered`` decides for a filter without any cluster (silent, or no diagonal cell above
    the threshold): ``drop`` (METHOD.md's rule as written: it shares no label, so it loses every
    connection) or ``keep`` (its connections are all kept: no evidence to prune on)."""
    if unclustered not in UNCLUSTERED:
        raise ValueError(f"unclustered must be one of {UNCLUSTERED}, got {unclustered!r}")
    ins, outs = [labels_of(c) for c in inputs], [labels_of(c) for c in outputs]
    keep = np.array([[bool(o & i) for i in ins] for o in outs], dtype=bool).reshape(
        len(outs), len(ins)
    )
    if unclustered == "keep":
        keep[:, [not i for i in ins]] = True
        keep[[not o for o in outs], :] = True
    return keep


def balanced_clusters(
    sizes: Sequence[Sequence[int]], num_classes: int, rng: np.random.Generator
) -> list[list[Cluster]]:
    """Random clusters of the given sizes per filter (disjoint within a filter), drawn so that
    labels are covered evenly: each filter takes the labels used least so far (ties at random),
    so over the layer the counts of any two labels differ by at most one."""
    used = np.zeros(num_classes, dtype=int)
    drawn: list[list[Cluster]] = []
    for filter_sizes in sizes:
        total = sum(filter_sizes)
        if total > num_classes or min(filter_sizes, default=1) < 1:
            raise ValueError(f"cluster sizes {list(filter_sizes)} do not fit {num_classes} labels")
        order = np.lexsort((rng.random(num_classes), used))  # least used first, ties at random
        labels = rng.permutation(order[:total])
        used[labels] += 1
        bounds = np.cumsum([0, *filter_sizes])
        drawn.append(
            [tuple(sorted(labels[a:b].tolist())) for a, b in zip(bounds, bounds[1:], strict=False)]
        )
    return drawn


def match_count(mask: np.ndarray, kept: int, rng: np.random.Generator) -> np.ndarray:
    """``mask`` with connections added or removed at random positions until exactly ``kept``
    are kept (a control mask brought to the sparsity of the mask it controls for)."""
    if not 0 <= kept <= mask.size:
        raise ValueError(f"cannot keep {kept} of {mask.size} connections")
    flat = mask.astype(bool).ravel().copy()
    excess = int(flat.sum()) - kept
    pool = np.flatnonzero(flat if excess > 0 else ~flat)
    flat[rng.choice(pool, size=abs(excess), replace=False)] = excess < 0
    return flat.reshape(mask.shape)


def magnitude_mask(weight: np.ndarray, kept: int) -> np.ndarray:
    """Bool ``(out, in)`` keeping the ``kept`` connections whose kernels ``weight[j, i, ...]``
    have the largest L1 norm (ties: the lower flat index first)."""
    weight = np.asarray(weight)
    if weight.ndim < 2 or not 0 <= kept <= weight.shape[0] * weight.shape[1]:
        raise ValueError(f"cannot keep {kept} connections of a weight of shape {weight.shape}")
    norms = np.abs(weight).reshape(weight.shape[0], weight.shape[1], -1).sum(axis=2)
    order = np.argsort(-norms.ravel(), kind="stable")
    keep = np.zeros(norms.size, dtype=bool)
    keep[order[:kept]] = True
    return keep.reshape(norms.shape)


def kept_fraction(masks: Sequence[np.ndarray], weights_per_connection: Sequence[int]) -> float:
    """The fraction of weights kept over several masks, each connection standing for
    ``weights_per_connection`` weights (a kernel's ``kh * kw``)."""
    kept = sum(int(m.sum()) * n for m, n in zip(masks, weights_per_connection, strict=True))
    total = sum(m.size * n for m, n in zip(masks, weights_per_connection, strict=True))
    return kept / total if total else 1.0
