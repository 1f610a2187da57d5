"""Report figures (docs/method.md, "Figures"); each function returns a Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.transforms import offset_copy

from filterscope.report.layout import (
    CELL_BELOW,
    CELL_CLUSTER,
    CELL_NOISE,
    cell_classes,
    cluster_order,
    permute,
)

if TYPE_CHECKING:
    from filterscope.analysis.layer import LayerStats

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after selecting the headless backend)

BELOW_COLOUR = "whitesmoke"
ABOVE_COLOUR = "black"
CLUSTER_COLOUR = "tab:blue"
NOISE_COLOUR = "yellow"
CELL_STYLE = {
    CELL_BELOW: (BELOW_COLOUR, "below threshold"),
    CELL_CLUSTER: (CLUSTER_COLOUR, "cluster"),
    CELL_NOISE: (NOISE_COLOUR, "noise"),
}
"""Colour and colour-bar name of each cell class of ``cluster_heatmap``."""
DPI = 120


def save(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG (dpi 120, tight bounding box), close it, and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def titled_axes(
    title: str, xlabel: str, ylabel: str, size: tuple[float, float]
) -> tuple[Figure, Axes]:
    """A new figure with one titled, labelled axes."""
    fig, ax = plt.subplots(figsize=size)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def _matrix_axes(title: str, classes: Sequence[str]) -> tuple[Figure, Axes]:
    """Axes for a ``(K, K)`` label matrix: class names on both axes, a light cell grid."""
    k = len(classes)
    side = max(4.0, 0.45 * k + 2.5)
    fig, ax = titled_axes(title, "output unit", "input label", (side + 1.5, side))
    ticks = np.arange(k)
    ax.set_xticks(ticks, labels=list(classes), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(ticks, labels=list(classes))
    ax.set_xticks(ticks - 0.5, minor=True)
    ax.set_yticks(ticks - 0.5, minor=True)
    ax.grid(which="minor", color="lightgray", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    return fig, ax


def _check_matrix(matrix: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """``matrix`` as an array, checked to be ``(K, K)`` with ``K = len(classes)``."""
    m = np.asarray(matrix)
    if m.shape != (len(classes), len(classes)):
        raise ValueError(f"matrix shape {m.shape} does not match {len(classes)} classes")
    return m


def _categorical_image(
    fig: Figure, ax: Axes, cells: np.ndarray, colours: Sequence[str], names: Sequence[str]
) -> None:
    """Show integer ``cells`` (values ``0..n-1``) with one colour each and a named colour bar."""
    n = len(colours)
    image = ax.imshow(cells, cmap=ListedColormap(list(colours)), vmin=-0.5, vmax=n - 0.5)
    bar = fig.colorbar(image, ax=ax, ticks=range(n), shrink=0.6)
    bar.ax.set_yticklabels(list(names))


def outside_legend(ax: Axes) -> None:
    """Legend to the right of the axes, clear of the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")


def _grouped_bars(
    ax: Axes, categories: Sequence[str], names: Sequence[str], values: np.ndarray
) -> None:
    """Bars of ``values[l, c]`` grouped by category ``c``, one colour and legend entry per row."""
    n_rows, n_cat = values.shape
    width = 0.8 / n_rows
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, n_rows))
    x = np.arange(n_cat)
    for row, (name, colour) in enumerate(zip(names, colours, strict=True)):
        ax.bar(x - 0.4 + (row + 0.5) * width, values[row], width, color=colour, label=name)
    ax.set_xticks(x, labels=list(categories))
    outside_legend(ax)


def _check_stats(stats: Sequence[LayerStats]) -> int:
    """Number of labels ``K`` shared by every layer of ``stats`` (at least one layer)."""
    if not stats:
        raise ValueError("need at least one layer")
    k = {len(s.label_coverage) for s in stats}
    if len(k) != 1:
        raise ValueError(f"layers disagree on the number of labels: {sorted(k)}")
    return k.pop()


def per_layer_curve(
    layers: Sequence[int],
    series: Mapping[str, Sequence[float]],
    ylabel: str,
    title: str,
    errors: Mapping[str, Sequence[float]] | None = None,
    nodes: Mapping[int, str] | None = None,
) -> Figure:
    """One line with markers per series against the conv layer, optional error bars per series;
    with ``nodes`` each tick names the layer's cut point under its number.

    ``+inf`` values are drawn as an upward marker at the top of the axes, noted "inf";
    nan (and ``-inf``) values are left out.
    """
    errors = errors or {}
    if set(errors) - set(series):
        raise ValueError(f"errors for unknown series: {sorted(set(errors) - set(series))}")
    x = np.asarray(layers, dtype=np.float64)
    ys = {name: np.asarray(values, dtype=np.float64) for name, values in series.items()}
    errs = {name: np.asarray(values, dtype=np.float64) for name, values in errors.items()}
    for name, values in [*ys.items(), *errs.items()]:
        if values.shape != x.shape:
            raise ValueError(f"series {name!r} does not have one value per layer")
    fig, ax = titled_axes(title, "conv layer", ylabel, (6.0, 4.0))
    any_inf = False
    for n, (name, y) in enumerate(ys.items()):
        line = ax.errorbar(
            x,
            np.where(np.isfinite(y), y, np.nan),
            yerr=errs.get(name),
            marker="o",
            capsize=3,
            label=name,
        )
        infinite = np.isposinf(y)
        any_inf |= bool(infinite.any())
        colour = line.lines[0].get_color()
        # x in data, y in axes fraction; series side by side so that their markers do not hide
        shift = 14.0 * (n - (len(series) - 1) / 2)
        top = offset_copy(ax.get_xaxis_transform(), fig, x=shift, units="points")
        ax.plot(x[infinite], np.full(infinite.sum(), 0.95), "^", color=colour, transform=top)
        for xi in x[infinite]:
            ax.annotate(
                "inf",
                (xi, 0.95),
                xycoords=top,
                xytext=(0, -14),
                textcoords="offset points",
                ha="center",
                color=colour,
                fontsize="x-small",
            )
    if any_inf:  # headroom so the inf markers sit above the finite data
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.25 * (high - low))
    if nodes:
        ax.set_xticks(x, labels=[f"{layer}  {nodes[layer]}" for layer in layers])
        ax.set_xlabel("conv layer (cut point)")
        plt.setp(ax.get_xticklabels(), rotation=90, fontsize="x-small")
    else:
        ax.set_xticks(x, labels=[str(layer) for layer in layers])
    if x.size:
        ax.set_xlim(x.min() - 0.5, x.max() + 0.5)
    if len(series) > 1:
        outside_legend(ax)
    return fig


def field_heatmap(matrix: np.ndarray, classes: Sequence[str], title: str) -> Figure:
    """Raw field matrix ``M_f``: diverging colours centred at 0, with a colour bar."""
    m = _check_matrix(matrix, classes).astype(np.float64)
    finite = np.abs(m[np.isfinite(m)])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    fig, ax = _matrix_axes(title, classes)
    image = ax.imshow(m, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(image, ax=ax, shrink=0.8, label="mean field")
    return fig


def thresholded_heatmap(
    thresholded: np.ndarray, classes: Sequence[str], title: str, theta: float
) -> Figure:
    """Thresholded matrix ``B_f`` (``Mn_f > theta``) in two colours."""
    b = _check_matrix(thresholded, classes).astype(bool).astype(np.int64)
    fig, ax = _matrix_axes(f"{title} (θ = {theta:g})", classes)
    _categorical_image(fig, ax, b, [BELOW_COLOUR, ABOVE_COLOUR], [f"≤ {theta:g}", f"> {theta:g}"])
    return fig


def cluster_heatmap(
    thresholded: np.ndarray, clusters: Sequence[Sequence[int]], classes: Sequence[str], title: str
) -> Figure:
    """Thresholded matrix with rows and columns in ``cluster_order``: each cluster a contiguous
    outlined block, cluster cells in blue, noise cells in yellow."""
    b = _check_matrix(thresholded, classes)
    order = cluster_order(clusters, len(classes))
    cells = permute(cell_classes(b, clusters), order)
    fig, ax = _matrix_axes(title, [classes[label] for label in order])
    colours, names = zip(*(CELL_STYLE[c] for c in sorted(CELL_STYLE)), strict=True)
    _categorical_image(fig, ax, cells, colours, names)
    start = 0
    for cluster in clusters:
        corner = (start - 0.5, start - 0.5)
        ax.add_patch(Rectangle(corner, len(cluster), len(cluster), fill=False, linewidth=1.5))
        start += len(cluster)
    return fig


def unit_grid(
    thresholded: Sequence[np.ndarray],
    clusters: Sequence[Sequence[Sequence[int]]],
    classes: Sequence[str],
    title: str,
) -> Figure:
    """Every unit's thresholded matrix in one grid, in the original label order (so that the
    units' clusters can be compared label by label): cluster cells blue, noise yellow."""
    n = len(thresholded)
    if n == 0 or n != len(clusters):
        raise ValueError(f"need one cluster list per matrix; got {n} and {len(clusters)}")
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows + 0.6), squeeze=False)
    colours = ListedColormap([CELL_STYLE[c][0] for c in sorted(CELL_STYLE)])
    ticks = np.arange(len(classes))
    for unit, ax in enumerate(axes.flat):
        if unit >= n:
            ax.axis("off")
            continue
        cells = cell_classes(_check_matrix(thresholded[unit], classes), clusters[unit])
        ax.imshow(cells, cmap=colours, vmin=-0.5, vmax=len(CELL_STYLE) - 0.5)
        ax.set_title(f"unit {unit}: {len(clusters[unit])} cluster(s)", fontsize="small")
        ax.set_xticks(ticks, labels=list(classes), rotation=90, fontsize="x-small")
        ax.set_yticks(ticks, labels=list(classes), fontsize="x-small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _layer_name(layer: int, nodes: Mapping[int, str] | None) -> str:
    """``layer 3`` or, with the cut points' node names, ``layer 3 (layer1.2)``."""
    return f"layer {layer}" + (f" ({nodes[layer]})" if nodes else "")


def cluster_size_histogram(
    stats: Sequence[LayerStats], nodes: Mapping[int, str] | None = None
) -> Figure:
    """Clusters per filter of each size ``1..K``, grouped bars with one bar per layer (named
    with its node when ``nodes`` maps layers to node names)."""
    k = _check_stats(stats)
    values = np.array([s.cluster_size_histogram[1:] / s.filters for s in stats], dtype=np.float64)
    fig, ax = titled_axes(
        "cluster sizes per layer", "cluster size", "clusters per filter", (8.0, 4.0)
    )
    names = [_layer_name(s.layer, nodes) for s in stats]
    _grouped_bars(ax, [str(size) for size in range(1, k + 1)], names, values)
    return fig


def label_coverage(
    stats: Sequence[LayerStats], classes: Sequence[str], nodes: Mapping[int, str] | None = None
) -> Figure:
    """Fraction of each layer's filters whose clusters contain each label; CV in the legend."""
    k = _check_stats(stats)
    if k != len(classes):
        raise ValueError(f"{len(classes)} class names for {k} labels")
    values = np.array([s.label_coverage / s.filters for s in stats], dtype=np.float64)
    fig, ax = titled_axes(
        "label coverage per layer", "label", "fraction of filters covering the label", (8.0, 4.0)
    )
    names = [f"{_layer_name(s.layer, nodes)} (CV {s.label_coverage_cv:.2f})" for s in stats]
    _grouped_bars(ax, classes, names, values)
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    return fig
