"""Pure analysis core: fields, field matrices, clusters, noise, SNR, layer statistics, AFCC."""

from filterscope.analysis.afcc import afcc_mask, dilute
from filterscope.analysis.clusters import Cluster, cluster_indicator, find_clusters, noise
from filterscope.analysis.fields import FieldAccumulator, filter_fields
from filterscope.analysis.layer import (
    FilterAnalysis,
    LayerStats,
    analyse_filter,
    analyse_layer,
)
from filterscope.analysis.matrices import DEFAULT_THETA, normalise, threshold
from filterscope.analysis.snr import SNR, snr

__all__ = [
    "DEFAULT_THETA",
    "SNR",
    "Cluster",
    "FieldAccumulator",
    "FilterAnalysis",
    "LayerStats",
    "afcc_mask",
    "analyse_filter",
    "analyse_layer",
    "cluster_indicator",
    "dilute",
    "filter_fields",
    "find_clusters",
    "noise",
    "normalise",
    "snr",
    "threshold",
]
