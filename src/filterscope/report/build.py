"""The report's figures and Markdown summary from per-layer statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from filterscope.analysis.layer import FilterAnalysis, LayerStats
from filterscope.report import figures
from filterscope.report.layout import choose_filters

# Columns of the per-layer table (report.md and plots/report_layers.csv).
TABLE_COLUMNS = (
    "layer",
    "filters",
    "probe_accuracy",
    "single_filter_accuracy_mean",
    "single_filter_accuracy_std",
    "clusters_per_filter",
    "mean_cluster_size",
    "labels_in_clusters",
    "noise_per_filter",
    "silent_fraction",
    "no_cluster_fraction",
    "label_coverage_cv",
    "snr_threshold",
    "snr_cluster",
)


def table_rows(stats: Sequence[LayerStats]) -> list[dict[str, float]]:
    """One flat row per layer with the columns of :data:`TABLE_COLUMNS`."""
    rows = []
    for s in stats:
        row = {c: getattr(s, c) for c in TABLE_COLUMNS if not c.startswith("snr_")}
        row["snr_threshold"] = s.snr_threshold.ratio
        row["snr_cluster"] = s.snr_cluster.ratio
        rows.append(row)
    return rows


def layer_figures(stats: Sequence[LayerStats], classes: Sequence[str], out: Path) -> list[Path]:
    """Per-layer curves, cluster-size histogram and label coverage, saved under ``out``."""
    layers = [s.layer for s in stats]
    curves = {
        "probe_accuracy.png": figures.per_layer_curve(
            layers,
            {"linear probe": [s.probe_accuracy for s in stats]},
            "test accuracy",
            "Probe accuracy per layer",
        ),
        "single_filter_accuracy.png": figures.per_layer_curve(
            layers,
            {"single filter": [s.single_filter_accuracy_mean for s in stats]},
            "test accuracy",
            "Single-filter accuracy per layer (mean ± std)",
            errors={"single filter": [s.single_filter_accuracy_std for s in stats]},
        ),
        "snr.png": figures.per_layer_curve(
            layers,
            {
                "thresholded": [s.snr_threshold.ratio for s in stats],
                "clusters only": [s.snr_cluster.ratio for s in stats],
            },
            "SNR",
            "Signal-to-noise ratio per layer",
        ),
        "noise.png": figures.per_layer_curve(
            layers,
            {"noise": [s.noise_per_filter for s in stats]},
            "above-threshold cells outside clusters",
            "Noise per filter per layer",
        ),
        "cluster_sizes.png": figures.cluster_size_histogram(stats),
        "label_coverage.png": figures.label_coverage(stats, classes),
    }
    return [figures.save(fig, out / name) for name, fig in curves.items()]


def filter_figures(
    layer: int,
    matrices: np.ndarray,
    analyses: Sequence[FilterAnalysis],
    classes: Sequence[str],
    theta: float,
    out: Path,
    *,
    count_random: int = 1,
    seed: int = 0,
) -> list[Path]:
    """Raw, thresholded and cluster-permuted heatmaps of the layer's chosen filters."""
    paths = []
    for kind, chosen in choose_filters(analyses, count_random, seed + layer).items():
        for f in chosen:
            a = analyses[f]
            stem = f"layer_{layer:02d}_{kind}_filter_{f:03d}"
            name = f"layer {layer}, filter {f} ({kind})"
            paths.append(
                figures.save(
                    figures.field_heatmap(matrices[f], classes, f"Field matrix, {name}"),
                    out / f"{stem}_field.png",
                )
            )
            paths.append(
                figures.save(
                    figures.thresholded_heatmap(
                        a.thresholded, classes, f"Thresholded, {name}", theta
                    ),
                    out / f"{stem}_thresholded.png",
                )
            )
            paths.append(
                figures.save(
                    figures.cluster_heatmap(
                        a.thresholded, a.clusters, classes, f"Clusters, {name}"
                    ),
                    out / f"{stem}_clusters.png",
                )
            )
    return paths


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else ("n/a" if math.isnan(value) else f"{value:.3g}")
    return str(value)


def markdown(
    title: str, rows: Sequence[dict[str, float]], images: Sequence[Path], root: Path
) -> str:
    """A Markdown report: the per-layer table, then every figure (paths relative to ``root``)."""
    lines = [f"# {title}", "", "| " + " | ".join(TABLE_COLUMNS) + " |"]
    lines.append("|" + "---|" * len(TABLE_COLUMNS))
    lines += ["| " + " | ".join(_cell(row[c]) for c in TABLE_COLUMNS) + " |" for row in rows]
    lines.append("")
    for image in images:
        rel = image.relative_to(root).as_posix()
        lines += [f"![{image.stem}]({rel})", ""]
    return "\n".join(lines)
