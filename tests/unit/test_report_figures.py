"""Every report figure renders to a PNG; the cluster heatmap shows the right cells and colours."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from filterscope.analysis import LayerStats, analyse_layer
from filterscope.report.figures import (
    cluster_heatmap,
    cluster_size_histogram,
    field_heatmap,
    label_coverage,
    per_layer_curve,
    save,
    thresholded_heatmap,
    unit_grid,
)
from filterscope.report.layout import CELL_BELOW, CELL_CLUSTER, CELL_NOISE

CLASSES = ["zero", "one", "two", "three", "four", "five"]
# Same example as test_report_layout: clusters (1, 4) and (0, 2, 5), noise at (3, 1) and (4, 2).
CLUSTERS = [(1, 4), (0, 2, 5)]
B = np.zeros((6, 6), dtype=bool)
for _cluster in CLUSTERS:
    B[np.ix_(_cluster, _cluster)] = True
B[3, 1] = B[4, 2] = True
ORDER = [1, 4, 0, 2, 5, 3]
NOISE_AT = {(5, 0), (1, 3)}  # (3, 1) and (4, 2) after the permutation
inf, nan = math.inf, math.nan


def _assert_png(fig: Figure, tmp_path: Path, name: str = "fig.png") -> None:
    path = save(fig, tmp_path / "plots" / name)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 100
    assert not plt.fignum_exists(fig.number)


def _ticks(labels: list) -> list[str]:
    return [t.get_text() for t in labels]


@pytest.fixture(scope="module")
def stats() -> list[LayerStats]:
    """Layer 1: the example filter, a diagonal filter and a silent one; layer 2: all silent."""
    live = np.stack([B * 1.0, np.eye(6), -np.ones((6, 6))])
    layer1, _ = analyse_layer(1, live, np.array([0.3, 0.2, 0.1]), 0.8)
    layer2, _ = analyse_layer(2, -np.ones((4, 6, 6)), np.full(4, 0.1), 0.9)
    assert math.isnan(layer2.label_coverage_cv) and math.isnan(layer2.snr_threshold.ratio)
    return [layer1, layer2]


def test_per_layer_curve_with_inf_and_nan(tmp_path: Path) -> None:
    fig = per_layer_curve(
        [1, 2, 3, 4],
        {"threshold": [1.0, inf, nan, 3.0], "cluster": [inf] * 4},
        "SNR",
        "SNR per layer",
    )
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.containers[0].lines[0].get_ydata(), [1.0, nan, nan, 3.0])
    assert [t.get_text() for t in ax.texts] == ["inf"] * 5
    assert _ticks(ax.get_xticklabels()) == ["1", "2", "3", "4"]
    assert ax.get_xlabel() == "conv layer" and ax.get_ylabel() == "SNR"
    assert _ticks(ax.get_legend().get_texts()) == ["threshold", "cluster"]
    _assert_png(fig, tmp_path)


def test_per_layer_curve_with_error_bars(tmp_path: Path) -> None:
    fig = per_layer_curve(
        [1, 2, 3], {"mean": [0.2, 0.3, 0.5]}, "accuracy", "t", errors={"mean": [0.1, 0.0, nan]}
    )
    ax = fig.axes[0]
    assert ax.containers[0].has_yerr and ax.get_legend() is None
    _assert_png(fig, tmp_path)


@pytest.mark.parametrize(
    ("series", "errors"),
    [
        ({"a": [1.0, 2.0]}, None),  # too few values
        ({"a": [1.0, 2.0, 3.0]}, {"b": [0.1] * 3}),  # errors of an unknown series
        ({"a": [1.0, 2.0, 3.0]}, {"a": [0.1]}),  # too few errors
    ],
)
def test_per_layer_curve_rejects_mismatches(series: dict, errors: dict | None) -> None:
    open_before = plt.get_fignums()  # other tests of the worker may have left figures open
    with pytest.raises(ValueError):
        per_layer_curve([1, 2, 3], series, "y", "t", errors=errors)
    assert plt.get_fignums() == open_before  # refused before any figure was made


def test_field_heatmap_is_centred_at_zero(tmp_path: Path) -> None:
    m = np.linspace(-1.0, 3.0, 36).reshape(6, 6)
    m[2, 2] = nan
    fig = field_heatmap(m, CLASSES, "field")
    ax = fig.axes[0]
    image = ax.images[0]
    assert image.norm.vmin == -3.0 and image.norm.vmax == 3.0
    assert _ticks(ax.get_xticklabels()) == CLASSES == _ticks(ax.get_yticklabels())
    assert ax.get_xlabel() == "output unit" and ax.get_ylabel() == "input label"
    assert len(fig.axes) == 2  # colour bar
    _assert_png(fig, tmp_path)
    _assert_png(field_heatmap(np.zeros((6, 6)), CLASSES, "silent"), tmp_path, "silent.png")
    with pytest.raises(ValueError):
        field_heatmap(np.zeros((5, 5)), CLASSES, "wrong size")


def test_thresholded_heatmap(tmp_path: Path) -> None:
    fig = thresholded_heatmap(B, CLASSES, "B", theta=0.3)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), B.astype(int))
    assert "0.3" in ax.get_title()
    _assert_png(fig, tmp_path)


def test_cluster_heatmap_cells_colours_and_blocks(tmp_path: Path) -> None:
    fig = cluster_heatmap(B, CLUSTERS, CLASSES, "clusters")
    ax = fig.axes[0]
    image = ax.images[0]
    cells = np.asarray(image.get_array())
    assert {tuple(x) for x in np.argwhere(cells == CELL_NOISE)} == NOISE_AT
    assert (cells[:2, :2] == CELL_CLUSTER).all() and (cells[2:5, 2:5] == CELL_CLUSTER).all()
    assert (cells == CELL_CLUSTER).sum() == 4 + 9 and (cells == CELL_BELOW).sum() == 36 - 15
    colour = {c: image.cmap(image.norm(c)) for c in (CELL_BELOW, CELL_CLUSTER, CELL_NOISE)}
    assert colour[CELL_NOISE] == to_rgba("yellow")
    assert len(set(colour.values())) == 3
    assert _ticks(ax.get_xticklabels()) == [CLASSES[a] for a in ORDER]
    boxes = [(p.get_xy(), p.get_width()) for p in ax.patches if isinstance(p, Rectangle)]
    assert boxes == [((-0.5, -0.5), 2), ((1.5, 1.5), 3)]
    assert {"cluster", "noise"} <= set(_ticks(fig.axes[1].get_yticklabels()))
    _assert_png(fig, tmp_path)


def test_cluster_heatmap_of_a_silent_filter(tmp_path: Path) -> None:
    fig = cluster_heatmap(np.zeros((6, 6), dtype=bool), [], CLASSES, "silent")
    assert (np.asarray(fig.axes[0].images[0].get_array()) == CELL_BELOW).all()
    _assert_png(fig, tmp_path)


def test_cluster_size_histogram(stats: list[LayerStats], tmp_path: Path) -> None:
    fig = cluster_size_histogram(stats)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 2 * 6
    # layer 1: clusters of sizes 3, 2 (example) and six singletons (diagonal), over 3 filters
    np.testing.assert_allclose(heights[:6], np.array([6, 1, 1, 0, 0, 0]) / 3)
    assert heights[6:] == [0.0] * 6
    assert _ticks(ax.get_xticklabels()) == ["1", "2", "3", "4", "5", "6"]
    _assert_png(fig, tmp_path)


def test_label_coverage(stats: list[LayerStats], tmp_path: Path) -> None:
    fig = label_coverage(stats, CLASSES)
    ax = fig.axes[0]
    # layer 1: every label in the diagonal filter's clusters, all but label 3 in the example's
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, np.r_[[2, 2, 2, 1, 2, 2], np.zeros(6)] / 3)
    cv = np.std([2, 2, 2, 1, 2, 2]) / np.mean([2, 2, 2, 1, 2, 2])
    legend = _ticks(ax.get_legend().get_texts())
    assert legend == [f"layer 1 (CV {cv:.2f})", "layer 2 (CV nan)"]
    _assert_png(fig, tmp_path)
    open_before = plt.get_fignums()
    with pytest.raises(ValueError):
        label_coverage(stats, CLASSES[:5])
    with pytest.raises(ValueError):
        label_coverage([], CLASSES)
    assert plt.get_fignums() == open_before


def test_unit_grid_shows_each_units_cells_in_label_order(tmp_path: Path) -> None:
    silent = np.zeros_like(B)
    fig = unit_grid([B, silent, B.T], [CLUSTERS, [], []], CLASSES, "Layer 3: every unit")
    shown = [ax for ax in fig.axes if ax.axison]
    assert len(shown) == 3 and len(fig.axes) == 3  # one row of three
    first = shown[0].images[0].get_array()
    assert first[3, 1] == first[4, 2] == CELL_NOISE  # noise where it is, not permuted
    assert first[1, 4] == first[0, 5] == CELL_CLUSTER and first[3, 3] == CELL_BELOW
    assert (shown[1].images[0].get_array() == CELL_BELOW).all()
    assert shown[2].images[0].get_array()[1, 3] == CELL_NOISE  # no clusters: every cell noise
    assert shown[0].get_title() == "unit 0: 2 cluster(s)"
    _assert_png(fig, tmp_path)
    five = unit_grid([B] * 5, [CLUSTERS] * 5, CLASSES, "five")
    assert sum(ax.axison for ax in five.axes) == 5 and len(five.axes) == 8  # 2 rows of 4
    plt.close(five)
    with pytest.raises(ValueError, match="one cluster list per matrix"):
        unit_grid([B], [], CLASSES, "x")
