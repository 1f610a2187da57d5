"""The arms of a pruning study: AFCC at each threshold, its controls at exactly AFCC's number of
connections per site, and the unpruned network fine-tuned alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from filterscope.pruning.rules import (
    Clusters,
    Site,
    Unclustered,
    afcc_masks,
    kept_fraction,
    magnitude_masks,
    random_masks,
)
from filterscope.runs import arm_name


@dataclass(frozen=True)
class Arm:
    """One network to fine-tune: a method, the threshold whose clusters set its sparsity (None
    for ``dense``), and its mask per site (none for ``dense``)."""

    method: str
    theta: float | None
    masks: Mapping[str, np.ndarray]

    @property
    def name(self) -> str:
        """``afcc_theta_0.30``, ``random_theta_0.30``, ..., ``dense``: its key everywhere."""
        return arm_name(self.method, self.theta)

    def kept(self, per_connection: Mapping[str, int]) -> dict[str, float]:
        """The fraction of weights kept per site and, under ``all``, over every site."""
        names = list(self.masks)
        fractions = {name: float(np.mean(self.masks[name])) for name in names}
        masks = [self.masks[name] for name in names]
        weights = [per_connection[name] for name in names]
        return {**fractions, "all": kept_fraction(masks, weights) if names else 1.0}


def build_arms(
    methods: Sequence[str],
    thetas: Sequence[float],
    sites: Sequence[Site],
    clusters: Mapping[float, Clusters],
    weights: Mapping[str, np.ndarray],
    num_classes: int,
    unclustered: Unclustered,
    seed: int,
) -> list[Arm]:
    """Every arm ``methods`` asks for: per threshold (``clusters[theta]``, each layer's clusters
    at it) AFCC's masks and the controls at its count per site: ``random`` (a seeded draw per
    threshold) and ``magnitude`` (on ``weights[site]``, ``(out, in, ...)``); ``dense`` once,
    first. Without sites there is nothing to compare: no arm."""
    if not sites:
        return []
    arms = [Arm("dense", None, {})] if "dense" in methods else []
    for index, theta in enumerate(thetas):
        afcc = afcc_masks(sites, clusters[theta], num_classes, unclustered)
        kept = {name: int(mask.sum()) for name, mask in afcc.items()}
        for method in methods:
            if method == "afcc":
                arms.append(Arm(method, theta, afcc))
            elif method == "random":
                rng = np.random.default_rng([seed, index])
                drawn = random_masks(sites, clusters[theta], num_classes, kept, rng, unclustered)
                arms.append(Arm(method, theta, drawn))
            elif method == "magnitude":
                arms.append(Arm(method, theta, magnitude_masks(weights, kept)))
    return arms
