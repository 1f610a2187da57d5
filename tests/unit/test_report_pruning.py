"""The prune stage's report parts: the filter order that shows AFCC masks as blocks, the
accuracy-against-weights-kept figure (its lines are the rows' numbers), the mask panels, and the
figures written for the stage's page."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from filterscope.report.pruning import (
    accuracy_vs_kept,
    label_order,
    mask_panels,
    prune_figures,
    table_columns,
)

# Two thresholds per method, listed out of order of the fraction kept.
ROWS = [
    {"method": m, "theta": t, "kept_fraction": k, "pruned_acc": p, "finetuned_acc": f}
    for m, t, k, p, f in [
        ("afcc", 0.7, 0.2, 0.61, 0.72),
        ("afcc", 0.3, 0.5, 0.70, 0.74),
        ("random", 0.3, 0.5, 0.40, 0.73),
        ("random", 0.7, 0.2, 0.12, 0.71),
    ]
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_label_order_by_smallest_cluster_label_unclustered_last():
    # Filter 0: clusters {3, 4} -> 3; filter 1: none; filter 2: {1}, {5} -> 1; filter 3: {3} -> 3.
    clusters = [[[3, 4]], [], [[5], [1]], [[3]]]
    assert label_order(clusters, num_classes=6).tolist() == [2, 0, 3, 1]


def test_table_columns_add_one_kept_column_per_site():
    columns = table_columns(["pair_12_13", "head"])
    assert list(columns)[-2:] == ["kept_pair_12_13", "kept_head"]
    assert columns["kept_head"] == "kept in head"


def test_accuracy_vs_kept_draws_each_method_by_weights_kept():
    fig = accuracy_vs_kept(ROWS, unpruned=0.75, dense=0.73)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    afcc = lines["afcc, fine-tuned"]
    assert afcc.get_xdata().tolist() == [0.2, 0.5]
    assert afcc.get_ydata().tolist() == [0.72, 0.74]
    assert lines["random, right after pruning"].get_ydata().tolist() == [0.12, 0.40]
    assert lines["random, right after pruning"].get_linestyle() == "--"
    assert "magnitude, fine-tuned" not in lines  # no rows, no line
    assert list(lines["unpruned"].get_ydata()) == [0.75, 0.75]
    assert list(lines["unpruned, fine-tuned alike"].get_ydata()) == [0.73, 0.73]
    assert sorted(t.get_text() for t in ax.texts) == ["θ=0.3", "θ=0.7"]  # AFCC's points only
    assert ax.get_ylim()[1] >= 0.74 + 0.02  # room above the highest point


def test_accuracy_vs_kept_without_dense_has_no_dense_line():
    labels = [line.get_label() for line in accuracy_vs_kept(ROWS, 0.75, None).axes[0].get_lines()]
    assert "unpruned, fine-tuned alike" not in labels


def test_mask_panels_permute_rows_and_columns_and_count_kept():
    afcc = np.array([[1, 0, 0], [0, 1, 1]], dtype=bool)
    magnitude = np.array([[1, 1, 1], [0, 0, 0]], dtype=bool)
    fig = mask_panels(
        {"afcc": afcc, "magnitude": magnitude}, np.array([1, 0]), np.array([2, 0, 1]), "pair_1_2"
    )
    panels = fig.axes
    assert [ax.get_title() for ax in panels] == ["afcc: 3 of 6 kept", "magnitude: 3 of 6 kept"]
    shown = np.asarray(panels[0].get_images()[0].get_array())
    assert shown.tolist() == [[True, False, True], [False, True, False]]
    assert fig.get_suptitle() == "pair_1_2: connections kept"


def test_prune_figures_write_the_masks_only_when_shown(tmp_path: Path):
    masks = {"afcc": np.eye(2, dtype=bool)}
    order = np.arange(2)
    alone = prune_figures(ROWS, 0.75, 0.73, None, tmp_path / "a")
    both = prune_figures(ROWS, 0.75, None, ("head", masks, order, order), tmp_path / "b")
    assert [f.path.name for f in alone] == ["accuracy_vs_kept.png"]
    assert [f.path.name for f in both] == ["accuracy_vs_kept.png", "masks_head.png"]
    for f in both:
        assert f.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f.caption
