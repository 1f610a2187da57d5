"""Connection masks for pruning by the filters' clusters (AFCC, arXiv 2501.12880) and its controls.

A mask is a bool array over connections, ``(out, in)``: for a conv pair ``l -> l+1`` entry
``[j, i]`` stands for the kernel ``K_{l+1}[j, i, :, :]``; for a head ``[i, f]`` for output
``i``'s weights from filter ``f``. A :class:`Site` names such a set of connections. The controls
keep exactly as many connections as the AFCC mask of the same site: random clusters with
balanced label coverage (the authors' control), and the largest kernels by L1 norm (magnitude
pruning)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from filterscope.analysis.clusters import Cluster
from filterscope.schemas.prune import UNCLUSTERED, Unclustered


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
    the threshold): ``drop`` (docs/method.md's rule as written: it shares no label, so it loses
    every connection) or ``keep`` (its connections are all kept: no evidence to prune on)."""
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


def head_mask(
    clusters: Sequence[Sequence[Cluster]], num_classes: int, unclustered: Unclustered = "drop"
) -> np.ndarray:
    """Bool ``(K, F)``: keep output ``i``'s weights from filter ``f`` iff ``i`` lies in one of
    ``f``'s clusters. It is :func:`conv_mask` with the outputs as filters whose one cluster is
    their own label, so ``unclustered`` decides for a filter without a cluster alike."""
    return conv_mask(clusters, [[(label,)] for label in range(num_classes)], unclustered)


@dataclass(frozen=True)
class Site:
    """Connections to prune: from the filters of layer ``source`` to those of layer ``target``
    (a conv pair ``l -> l+1``), or to the output labels (``target`` None: the head)."""

    source: int
    target: int | None = None

    @property
    def name(self) -> str:
        """``pair_07_08`` or ``head_13``: the key of its mask in every output."""
        if self.target is None:
            return f"head_{self.source:02d}"
        return f"pair_{self.source:02d}_{self.target:02d}"

    @property
    def layers(self) -> tuple[int, ...]:
        """The probed layers whose clusters decide its mask."""
        return (self.source,) if self.target is None else (self.source, self.target)


Clusters = Mapping[int, Sequence[Sequence[Cluster]]]
"""Each probed layer's clusters, per filter."""


def afcc_masks(
    sites: Sequence[Site], clusters: Clusters, num_classes: int, unclustered: Unclustered = "drop"
) -> dict[str, np.ndarray]:
    """AFCC's mask of every site from the layers' clusters: :func:`conv_mask` for a pair,
    :func:`head_mask` for the head."""
    return {
        site.name: (
            head_mask(clusters[site.source], num_classes, unclustered)
            if site.target is None
            else conv_mask(clusters[site.source], clusters[site.target], unclustered)
        )
        for site in sites
    }


def random_clusters(
    layers: Sequence[int], clusters: Clusters, num_classes: int, rng: np.random.Generator
) -> dict[int, list[list[Cluster]]]:
    """The authors' control clusters: every filter of each layer gets random clusters of its
    real clusters' sizes, labels spread evenly over the layer (:func:`balanced_clusters`)."""
    return {
        layer: balanced_clusters([[len(c) for c in f] for f in clusters[layer]], num_classes, rng)
        for layer in layers
    }


def random_masks(
    sites: Sequence[Site],
    clusters: Clusters,
    num_classes: int,
    kept: Mapping[str, int],
    rng: np.random.Generator,
    unclustered: Unclustered = "drop",
) -> dict[str, np.ndarray]:
    """The random control's masks: the sites' rule on :func:`random_clusters` (one draw per
    layer, shared by the sites it takes part in), each mask then brought to exactly
    ``kept[site]`` connections (:func:`match_count`)."""
    layers = sorted({layer for site in sites for layer in site.layers})
    drawn = random_clusters(layers, clusters, num_classes, rng)
    masks = afcc_masks(sites, drawn, num_classes, unclustered)
    return {name: match_count(mask, kept[name], rng) for name, mask in masks.items()}


def magnitude_masks(
    weights: Mapping[str, np.ndarray], kept: Mapping[str, int]
) -> dict[str, np.ndarray]:
    """Magnitude (L1) control: per site, the ``kept[site]`` connections of largest L1 norm
    (``weights[site]`` is ``(out, in, ...)``, each connection's weights after the first two
    axes)."""
    return {name: magnitude_mask(weight, kept[name]) for name, weight in weights.items()}
