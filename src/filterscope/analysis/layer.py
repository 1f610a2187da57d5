"""Per-filter analysis (normalise, threshold, clusters, noise) and per-layer statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from filterscope.analysis.clusters import Cluster, cluster_indicator, find_clusters, noise
from filterscope.analysis.matrices import DEFAULT_THETA, normalise, threshold
from filterscope.analysis.snr import SNR, snr


@dataclass(frozen=True)
class FilterAnalysis:
    """One filter's normalised and thresholded matrices, clusters and noise.

    A silent filter has ``normalised=None``, an all-False ``thresholded``, no clusters, noise 0.
    """

    silent: bool
    normalised: np.ndarray | None
    thresholded: np.ndarray
    clusters: list[Cluster]
    noise: int

    @property
    def indicator(self) -> np.ndarray:
        """Cluster-block indicator ``C_f`` (bool ``(K, K)``)."""
        return cluster_indicator(self.clusters, self.thresholded.shape[0])


def analyse_filter(m: np.ndarray, theta: float = DEFAULT_THETA) -> FilterAnalysis:
    """Analyse one ``(K, K)`` field matrix ``M_f``."""
    mn = normalise(m)
    if mn is None:
        return FilterAnalysis(True, None, np.zeros(np.shape(m), dtype=bool), [], 0)
    b = threshold(mn, theta)
    clusters = find_clusters(b)
    return FilterAnalysis(False, mn, b, clusters, noise(b, clusters))


@dataclass(frozen=True)
class LayerStats:
    """The layer-level statistics of docs/method.md for one probed layer (``layer`` is 1-based).

    Means are over all filters (silent ones count as zero clusters) except ``noise_per_filter``
    (non-silent filters only); spreads are population standard deviations.
    """

    layer: int
    filters: int
    probe_accuracy: float
    single_filter_accuracy_mean: float
    single_filter_accuracy_std: float
    clusters_per_filter: float
    mean_cluster_size: float
    cluster_size_histogram: np.ndarray
    labels_in_clusters: float
    noise_per_filter: float
    silent_fraction: float
    no_cluster_fraction: float
    label_coverage: np.ndarray
    label_coverage_cv: float
    snr_threshold: SNR
    snr_cluster: SNR

    def to_dict(self) -> dict:
        """JSON-ready dict: floats, lists of numbers, SNRs as nested dicts (inf/nan kept)."""
        out: dict = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, SNR):
                out[field.name] = value.to_dict()
            elif isinstance(value, np.ndarray):
                out[field.name] = value.tolist()
            else:
                out[field.name] = value
        return out


def _mean(values: list[float] | np.ndarray) -> float:
    """Mean, or nan for an empty sequence (without a numpy warning)."""
    return float(np.mean(values)) if len(values) else math.nan


def analyse_layer(
    layer: int,
    matrices: np.ndarray,
    single_filter_accuracy: np.ndarray,
    probe_accuracy: float,
    theta: float = DEFAULT_THETA,
) -> tuple[LayerStats, list[FilterAnalysis]]:
    """Analyse every filter of a layer from its field matrices ``(F, K, K)`` and summarise."""
    matrices = np.asarray(matrices)
    accuracy = np.asarray(single_filter_accuracy, dtype=np.float64)
    if matrices.ndim != 3 or matrices.shape[0] == 0 or matrices.shape[1] != matrices.shape[2]:
        raise ValueError(f"matrices must be (F, K, K) with F >= 1; got shape {matrices.shape}")
    if accuracy.shape != matrices.shape[:1]:
        raise ValueError(
            f"single_filter_accuracy must have shape ({matrices.shape[0]},); got {accuracy.shape}"
        )
    num_classes = matrices.shape[1]
    analyses = [analyse_filter(m, theta) for m in matrices]

    n_clusters = np.array([len(a.clusters) for a in analyses])
    sizes = np.array([len(s) for a in analyses for s in a.clusters], dtype=np.int64)
    silent = np.array([a.silent for a in analyses])
    indicators = np.stack([a.indicator for a in analyses])
    coverage = indicators.diagonal(axis1=1, axis2=2).sum(axis=0, dtype=np.int64)
    coverage_mean = coverage.mean()

    stats = LayerStats(
        layer=int(layer),
        filters=len(analyses),
        probe_accuracy=float(probe_accuracy),
        single_filter_accuracy_mean=float(accuracy.mean()),
        single_filter_accuracy_std=float(accuracy.std()),
        clusters_per_filter=float(n_clusters.mean()),
        mean_cluster_size=_mean(sizes),
        cluster_size_histogram=np.bincount(sizes, minlength=num_classes + 1),
        labels_in_clusters=float(sizes.sum() / len(analyses)),
        noise_per_filter=_mean([a.noise for a in analyses if not a.silent]),
        silent_fraction=float(silent.mean()),
        no_cluster_fraction=float((n_clusters == 0).mean()),
        label_coverage=coverage,
        label_coverage_cv=float(coverage.std() / coverage_mean) if coverage_mean > 0 else math.nan,
        snr_threshold=snr(np.sum([a.thresholded for a in analyses], axis=0, dtype=np.int64)),
        snr_cluster=snr(indicators.sum(axis=0, dtype=np.int64)),
    )
    return stats, analyses
