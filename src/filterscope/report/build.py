"""The report's figures and Markdown summary from per-layer statistics."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from filterscope.analysis.layer import FilterAnalysis, LayerStats
from filterscope.report import figures
from filterscope.report.layout import choose_filters

# Columns of the per-layer table (report.md and plots/report_layers.csv).
TABLE_COLUMNS = (
    "layer",
    "node",
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
    "afcc_accuracy",
    "afcc_kept_fraction",
)


@dataclass(frozen=True)
class Afcc:
    """AFCC dilution of one layer's probe: the diluted probe's test accuracy, weights kept."""

    accuracy: float
    kept_fraction: float

    def to_dict(self) -> dict[str, float]:
        """The ``afcc_*`` entries of the layer's row and metrics."""
        return {"afcc_accuracy": self.accuracy, "afcc_kept_fraction": self.kept_fraction}


@dataclass(frozen=True)
class ReportFigure:
    """A saved figure and its caption."""

    path: Path
    caption: str


Sections = Mapping[str, Sequence[ReportFigure]]
"""Figures under their section headings, in order."""


def table_rows(
    stats: Sequence[LayerStats], afcc: Mapping[int, Afcc], nodes: Mapping[int, str]
) -> list[dict[str, float | str]]:
    """One flat row per layer with the columns of :data:`TABLE_COLUMNS` (``node``: the name of
    the layer's cut point in ``nodes``)."""
    rows = []
    for s in stats:
        row: dict[str, float | str] = {"layer": s.layer, "node": nodes[s.layer]}
        row |= {c: getattr(s, c) for c in TABLE_COLUMNS[2:] if not c.startswith(("snr_", "afcc_"))}
        row["snr_threshold"] = s.snr_threshold.ratio
        row["snr_cluster"] = s.snr_cluster.ratio
        rows.append(row | afcc[s.layer].to_dict())
    return rows


def headline(rows: Sequence[Mapping[str, float | str]], test_acc: float | None) -> dict[str, Any]:
    """The few numbers that sum a run up (``metrics/summary.json``, what ``dvc exp show``
    lists): the backbone's test accuracy, the first and last probed layer's probe accuracy,
    and the last layer's SNR, clusters, noise and AFCC, from the per-layer table ``rows``."""
    first, last = rows[0], rows[-1]
    return {
        "test_acc": test_acc,
        "layers": len(rows),
        "probe_acc_first": first["probe_accuracy"],
        "probe_acc_last": last["probe_accuracy"],
        "snr_last": last["snr_threshold"],
        "clusters_per_filter_last": last["clusters_per_filter"],
        "noise_per_filter_last": last["noise_per_filter"],
        "afcc_acc_last": last["afcc_accuracy"],
        "afcc_kept_last": last["afcc_kept_fraction"],
    }


def layer_figures(
    stats: Sequence[LayerStats],
    afcc: Mapping[int, Afcc],
    classes: Sequence[str],
    out: Path,
    nodes: Mapping[int, str],
) -> list[ReportFigure]:
    """Per-layer curves, AFCC, cluster-size histogram and label coverage, saved under ``out``;
    every layer is named by its number and its cut point in ``nodes``."""
    layers = [s.layer for s in stats]
    probe = [s.probe_accuracy for s in stats]
    curves = [
        (
            "probe_accuracy.png",
            figures.per_layer_curve(
                layers,
                {"linear probe": probe},
                "test accuracy",
                "Probe accuracy per layer",
                nodes=nodes,
            ),
            "Test accuracy of the linear probe on each conv layer's output.",
        ),
        (
            "single_filter_accuracy.png",
            figures.per_layer_curve(
                layers,
                {"single filter": [s.single_filter_accuracy_mean for s in stats]},
                "test accuracy",
                "Single-filter accuracy per layer (mean ± std)",
                nodes=nodes,
                errors={"single filter": [s.single_filter_accuracy_std for s in stats]},
            ),
            "Test accuracy of one filter's fields alone (argmax over outputs), mean and standard"
            " deviation over the layer's filters.",
        ),
        (
            "snr.png",
            figures.per_layer_curve(
                layers,
                {
                    "thresholded": [s.snr_threshold.ratio for s in stats],
                    "clusters only": [s.snr_cluster.ratio for s in stats],
                },
                "SNR",
                "Signal-to-noise ratio per layer",
                nodes=nodes,
            ),
            "Mean diagonal over mean off-diagonal of the summed thresholded matrices (and of the"
            " summed cluster blocks); inf where nothing lies off the diagonal.",
        ),
        (
            "noise.png",
            figures.per_layer_curve(
                layers,
                {"noise": [s.noise_per_filter for s in stats]},
                "above-threshold cells outside clusters",
                "Noise per filter per layer",
                nodes=nodes,
            ),
            "Above-threshold cells outside every cluster block, per non-silent filter.",
        ),
        (
            "afcc.png",
            figures.per_layer_curve(
                layers,
                {
                    "full probe": probe,
                    "AFCC-diluted probe": [afcc[layer].accuracy for layer in layers],
                    "weights kept": [afcc[layer].kept_fraction for layer in layers],
                },
                "test accuracy / fraction of weights",
                "AFCC: diluted probe accuracy and weights kept per layer",
                nodes=nodes,
            ),
            "AFCC: the probe keeps W[i, f] only where output i lies in one of filter f's"
            " clusters; test accuracy of the diluted probe against the full probe, and the"
            " fraction of the probe's weights kept.",
        ),
        (
            "cluster_sizes.png",
            figures.cluster_size_histogram(stats, nodes),
            "Clusters per filter of each size, one bar per layer.",
        ),
        (
            "label_coverage.png",
            figures.label_coverage(stats, classes, nodes),
            "Fraction of each layer's filters whose clusters contain each label; the legend gives"
            " the coefficient of variation over labels.",
        ),
    ]
    return [ReportFigure(figures.save(fig, out / name), caption) for name, fig, caption in curves]


FILTER_KINDS = {
    "most": "most labels in clusters",
    "least": "fewest labels in clusters",
    "random": "drawn at random",
}
"""How ``choose_filters`` picked each kind of filter, as the captions say it."""


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
) -> list[ReportFigure]:
    """Raw, thresholded and cluster-permuted heatmaps of the layer's chosen filters."""
    paths = []
    for kind, chosen in choose_filters(analyses, count_random, seed + layer).items():
        for f in chosen:
            a = analyses[f]
            stem = f"layer_{layer:02d}_{kind}_filter_{f:03d}"
            name = f"layer {layer}, filter {f} ({kind})"
            who = f"Layer {layer}, filter {f} ({FILTER_KINDS[kind]})"
            drawn = [
                (
                    figures.field_heatmap(matrices[f], classes, f"Field matrix, {name}"),
                    "field",
                    f"{who}: field matrix, the mean field of each output unit (columns) over"
                    " the test inputs of each label (rows).",
                ),
                (
                    figures.thresholded_heatmap(
                        a.thresholded, classes, f"Thresholded, {name}", theta
                    ),
                    "thresholded",
                    f"{who}: the field matrix divided by its maximum, thresholded at"
                    f" θ = {theta:g}.",
                ),
                (
                    figures.cluster_heatmap(
                        a.thresholded, a.clusters, classes, f"Clusters, {name}"
                    ),
                    "clusters",
                    f"{who}: the thresholded matrix with rows and columns permuted so that each"
                    " cluster is a contiguous outlined block; cluster cells blue, noise yellow.",
                ),
            ]
            paths += [
                ReportFigure(figures.save(fig, out / f"{stem}_{suffix}.png"), caption)
                for fig, suffix, caption in drawn
            ]
    return paths


GRID_UNITS = 16
"""A layer of at most this many units (a transformer block's heads) gets :func:`unit_grid`."""


def unit_grid(
    layer: int, analyses: Sequence[FilterAnalysis], classes: Sequence[str], theta: float, out: Path
) -> list[ReportFigure]:
    """All the layer's units side by side, where it has at most :data:`GRID_UNITS`."""
    if len(analyses) > GRID_UNITS:
        return []
    fig = figures.unit_grid(
        [a.thresholded for a in analyses],
        [a.clusters for a in analyses],
        classes,
        f"Layer {layer}: every unit's thresholded matrix (θ = {theta:g})",
    )
    caption = (
        f"Layer {layer}: each of its {len(analyses)} units' field matrix divided by its maximum"
        f" and thresholded at θ = {theta:g}, labels in their own order; cluster cells blue,"
        " noise yellow."
    )
    return [ReportFigure(figures.save(fig, out / f"layer_{layer:02d}_units.png"), caption)]


def format_cell(value: object) -> str:
    """A table value as text: floats to 3 significant digits, ``inf``, nan and None as ``n/a``."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else ("n/a" if math.isnan(value) else f"{value:.3g}")
    return str(value)


def markdown(
    title: str,
    rows: Sequence[Mapping[str, object]],
    sections: Sections,
    root: Path,
    columns: Sequence[str] = TABLE_COLUMNS,
    summary: Sequence[tuple[str, object]] = (),
) -> str:
    """A Markdown report: the run's ``summary`` as a list, a table of ``rows`` (the per-layer
    table by default), then every figure with its caption (paths relative to ``root``) under
    its section heading."""
    lines = [f"# {title}", ""]
    if summary:
        lines += [f"- {key}: {format_cell(value)}" for key, value in summary] + [""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(format_cell(row[c]) for c in columns) + " |" for row in rows]
    lines.append("")
    for heading, images in sections.items():
        lines += [f"## {heading}", ""]
        for image in images:
            rel = image.path.relative_to(root).as_posix()
            lines += [f"![{image.path.stem}]({rel})", "", image.caption, ""]
    return "\n".join(lines)
