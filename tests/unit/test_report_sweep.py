"""Sweep comparison tables and figures on hand-made run histories."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from filterscope.report.figures import plt, save
from filterscope.report.sweep import (
    accuracy_limits,
    accuracy_vs_param,
    curves_by_param,
    layer_table,
    mechanism_by_layer,
    mechanism_table,
    mechanism_vs_param,
    pruning_summary,
    pruning_table,
    pruning_tests,
    replicates,
    rising_epoch,
    summarise,
    swept_params,
    with_label_counts,
)
from filterscope.runs import RunHistory


@pytest.fixture(autouse=True)
def no_figure_left_open() -> Iterator[None]:
    """Every figure a test here draws is closed after it (figure tests elsewhere in the same
    process count open figures)."""
    yield
    plt.close("all")


def run(run_id: str, lr: str, dropout: str, test_acc: float, val_loss: list[float]) -> RunHistory:
    n = len(val_loss)
    return RunHistory(
        run_id=run_id,
        params={"train.lr": lr, "model.dropout": dropout, "paths.root": f"/jobs/{run_id}"},
        test_acc=test_acc,
        history={
            "train_loss": [1.0 / (e + 1) for e in range(n)],
            "train_acc": [0.5 + 0.1 * e for e in range(n)],
            "val_loss": val_loss,
            "val_acc": [1 - v for v in val_loss],
            "seconds": [2.0] * (n - 1) + [4.0],
        },
    )


RUNS = [
    run("a", "0.1", "0.0", 0.10, [2.3, 2.3, 2.3]),
    run("b", "0.001", "0.0", 0.97, [0.5, 0.3, 0.4]),
    run("c", "0.001", "0.5", 0.98, [0.6, 0.4, 0.2]),
]


def test_rising_epoch() -> None:
    assert rising_epoch([0.5, 0.3, 0.4, 0.6]) == 3
    assert rising_epoch([0.5, 0.3, 0.2]) is None
    assert rising_epoch([0.4]) is None
    assert rising_epoch([]) is None


def test_swept_params_ignore_constant_and_per_job_paths() -> None:
    assert swept_params(RUNS) == ["model.dropout", "train.lr"]
    assert swept_params(RUNS[1:2]) == []
    newer = RunHistory("d", {**RUNS[0].params, "train.num_nodes": "1"}, 0.5)
    assert swept_params([*RUNS, newer]) == ["model.dropout", "train.lr"]


def test_summary_by_hand() -> None:
    table = summarise(RUNS)
    assert list(table["run_id"]) == ["c", "b", "a"]  # best test accuracy first
    row = table.set_index("run_id").loc["b"]
    assert row["train.lr"] == "0.001" and row["model.dropout"] == "0.0"
    assert row["best_val_epoch"] == 2 and math.isclose(row["best_val_acc"], 0.7)
    assert row["val_loss_rises_at"] == 3
    assert (row["val_loss_first"], row["val_loss_min"], row["val_loss_final"]) == (0.5, 0.3, 0.4)
    assert math.isclose(row["train_val_gap"], 0.7 - 0.6)  # last epoch: train 0.7, val 1 - 0.4
    assert math.isclose(row["seconds_per_epoch"], 8 / 3)
    assert math.isnan(table.set_index("run_id").loc["c"]["val_loss_rises_at"])
    assert "paths.root" not in table.columns


def test_figures_render(tmp_path: Path) -> None:
    curves = curves_by_param(RUNS, "train.lr")
    assert len(curves.axes[0].lines) == 2 * len(RUNS)  # train and validation per run
    accuracy = accuracy_vs_param(summarise(RUNS), "train.lr", swept_params(RUNS))
    assert accuracy.axes[0].get_xscale() == "log"  # 0.001 .. 0.1 spans two decades
    assert len(accuracy.axes[0].texts) == len(RUNS)  # every setting labelled with its accuracy
    assert not accuracy.axes[0].containers  # one run per setting: no error bars
    for name, fig in {"curves": curves, "accuracy": accuracy}.items():
        assert save(fig, tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_accuracy_axis_zooms_on_close_accuracies() -> None:
    assert accuracy_limits([0.11, 0.94, 0.99]) == (0.0, 1.0)  # a diverged run: the whole range
    low, high = accuracy_limits([0.9853, 0.9878])
    assert math.isclose(low, 0.9813) and math.isclose(high, 0.9918)  # padded by 0.004
    assert accuracy_limits([0.999, 0.999]) == (0.995, 1.0)  # never above 1


def seeded_runs() -> list[RunHistory]:
    """Two learning rates, three seeds each; the seed shifts validation loss by 0.1 per step."""
    return [
        RunHistory(
            f"{lr}-{seed}",
            {**run("x", lr, "0.0", 0.0, []).params, "seed": str(seed)},
            acc + 0.01 * seed,
            {"val_loss": [0.5 + 0.1 * seed, 0.4 + 0.1 * seed], "val_acc": [0.5, 0.6]},
        )
        for lr, acc in (("0.1", 0.10), ("0.001", 0.97))
        for seed in range(3)
    ]


def test_seeds_are_replicates_not_a_swept_param(tmp_path: Path) -> None:
    runs = seeded_runs()
    assert swept_params(runs) == ["train.lr"]
    table = summarise(runs)
    assert sorted(table["seed"]) == ["0", "0", "1", "1", "2", "2"]
    curves = curves_by_param(runs, "train.lr")
    assert len(curves.axes[0].lines) == 2 * 2  # one mean curve per setting and split
    band = curves.axes[0].collections[1]  # validation band of lr 0.001: seeds 0.5, 0.6, 0.7
    lows = band.get_paths()[0].vertices[:, 1]
    half = 4.302653 * 0.1 / math.sqrt(3)
    assert min(lows) == pytest.approx(0.5 - half, abs=1e-6)
    accuracy = accuracy_vs_param(table, "train.lr", ["train.lr"])
    (bars,) = accuracy.axes[0].containers  # one error bar per setting
    assert len(bars.lines[2][0].get_segments()) == 2
    assert [t.get_text() for t in accuracy.axes[0].texts] == ["0.9800", "0.1100"]  # the means
    assert save(accuracy, tmp_path / "a.png").stat().st_size > 0


def test_intervals_past_one_are_clipped_and_keep_the_zoom() -> None:
    """Three seeds at 0.990, 0.995, 1.000: the t interval reaches 1.0062; drawn, it stops at 1,
    and the axis stays zoomed on the accuracies instead of falling back to [0, 1]."""
    table = pd.DataFrame(
        {
            "train.lr": ["0.001"] * 3 + ["0.01"] * 3,
            "seed": ["0", "1", "2"] * 2,
            "test_acc": [0.990, 0.995, 1.000, 0.985, 0.986, 0.987],
        }
    )
    ax = accuracy_vs_param(table, "train.lr", ["train.lr"]).axes[0]
    (bars,) = ax.containers
    tops = [seg[:, 1].max() for seg in bars.lines[2][0].get_segments()]
    assert max(tops) == 1.0
    low, high = ax.get_ylim()
    assert high == 1.0 and low > 0.95


def chain_runs() -> list[RunHistory]:
    """Two dropout values x two seeds, two probed layers; SNR = 1 + dropout + seed / 10 +
    layer, clusters per filter = layer."""
    return [
        RunHistory(
            f"{dropout}-{seed}",
            {"model.dropout": dropout, "seed": str(seed), "paths.root": f"/j/{dropout}{seed}"},
            0.9,
            layers={
                "snr_threshold": {n: 1 + float(dropout) + seed / 10 + n for n in (1, 2)},
                "clusters_per_filter": {1: 1.0, 2: 2.0},
            },
        )
        for dropout in ("0.0", "0.5")
        for seed in (0, 1)
    ]


def test_layer_table_and_the_mechanism_per_setting_by_hand(tmp_path: Path) -> None:
    runs = chain_runs()
    layers = layer_table(runs)
    assert len(layers) == 4 * 2
    assert list(layers.columns) == [
        "model.dropout", "seed", "layer", "clusters_per_filter", "snr_threshold", "run_id",
    ]  # fmt: skip
    # the LAYER_METRICS order, not the order the runs happened to log them in
    table = mechanism_table(layers, ["model.dropout"])
    snr = table[table["statistic"] == "snr_threshold"].set_index(["model.dropout", "layer"])
    assert snr.loc[("0.5", 2), "mean"] == pytest.approx(1 + 0.5 + 0.05 + 2)
    assert snr.loc[("0.5", 2), "std"] == pytest.approx(math.sqrt(0.005))  # 0.0 and 0.1 apart
    assert list(snr["n"]) == [2, 2, 2, 2]
    clusters = table[table["statistic"] == "clusters_per_filter"]
    assert list(clusters["std"]) == [0.0] * 4  # no spread between seeds
    fig = mechanism_vs_param(layers, "model.dropout", ["model.dropout"])
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["clusters per filter", "snr threshold"]
    assert len(panels[1].lines) >= 2 and len(panels[1].containers) == 2  # a line per layer
    assert save(fig, tmp_path / "m.png").stat().st_size > 0
    assert layer_table(RUNS).empty  # training-only sweeps have no per-layer numbers


def test_mechanism_intervals_stay_within_each_numbers_range() -> None:
    """Two seeds (t = 12.7): noise 0.1 and 2.0 give an interval from -11 to 13, probe accuracy
    0.99 and 1.0 one past 1; drawn, they stop at 0 and at 1."""
    runs = [
        RunHistory(
            f"{seed}",
            {"model.dropout": d, "seed": str(seed)},
            0.9,
            layers={
                "noise_per_filter": {1: (0.1, 2.0)[seed]},
                "probe_accuracy": {1: (0.99, 1.0)[seed]},
            },
        )  # fmt: skip
        for d in ("0.0", "0.5")
        for seed in (0, 1)
    ]
    fig = mechanism_vs_param(layer_table(runs), "model.dropout", ["model.dropout"])
    ends = {
        ax.get_title(): [
            y for seg in ax.containers[0].lines[2][0].get_segments() for y in seg[:, 1]
        ]
        for ax in fig.axes
        if ax.get_visible()
    }
    assert min(ends["noise per filter"]) == 0.0 and max(ends["noise per filter"]) > 10
    assert max(ends["probe accuracy"]) == 1.0 and min(ends["probe accuracy"]) < 0.99


def test_the_mechanism_by_layer_draws_a_line_and_band_per_setting(tmp_path: Path) -> None:
    layers = layer_table(chain_runs())
    fig = mechanism_by_layer(layers, ["model.dropout"])
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    snr = panels["snr threshold"]
    lines = {line.get_label(): line for line in snr.lines}
    assert sorted(lines) == ["model.dropout=0.0", "model.dropout=0.5"]
    # dropout 0.5: seeds 0 and 1 give 2.5, 2.6 at layer 1 and 3.5, 3.6 at layer 2
    assert list(lines["model.dropout=0.5"].get_ydata()) == pytest.approx([2.55, 3.55])
    assert len(snr.collections) == 2  # a band per setting (two seeds each)
    clusters = panels["clusters per filter"].collections[0].get_paths()[0].vertices[:, 1]
    assert set(np.round(clusters, 9)) <= {1.0, 2.0}  # no spread between seeds: a flat band
    assert save(fig, tmp_path / "l.png").stat().st_size > 0


def test_a_sweep_over_label_subsets_is_swept_by_their_size() -> None:
    """Two subsets of 2 labels, one of 3, and the full dataset (no subset): K is the swept
    value, the subsets of one K are replicates, as seeds are."""
    subsets = {"a": "[0, 3]", "b": "[1, 2]", "c": "['cat', 'dog', 'ship']", "d": "None"}
    runs = with_label_counts(
        [RunHistory(n, {"data.classes": c, "seed": "0"}, 0.5) for n, c in subsets.items()]
    )
    assert [r.params.get("labels") for r in runs] == ["2", "2", "3", None]
    present = runs[:3]
    assert swept_params(present) == ["labels"] and replicates(present) == ["data.classes"]
    table = summarise(present)
    assert sorted(table.columns[:2]) == ["data.classes", "labels"]
    same_k = with_label_counts(runs[:2])  # one K, two subsets: the subsets are what is swept
    assert swept_params(same_k) == ["data.classes"] and replicates(same_k) == []


def pruned(run_id: str, seed: str, arms: dict[str, tuple[float, float, float]]) -> RunHistory:
    """A whole-chain job that pruned: per arm (kept fraction, accuracy right after pruning,
    after fine-tuning)."""
    numbers = {
        f"{arm}_{name}": value
        for arm, values in arms.items()
        for name, value in zip(
            ("kept_fraction", "pruned_acc", "finetuned_acc"), values, strict=True
        )
    }
    return RunHistory(run_id, {"seed": seed, "train.lr": "0.05"}, 0.6, pruning=numbers)


def test_pruning_tables_pair_afcc_with_each_control_on_the_same_backbone() -> None:
    runs = [
        pruned(
            f"r{seed}",
            str(seed),
            {
                "dense": (1.0, 0.60, 0.61),
                "afcc_theta_0.30": (0.4, 0.50 + d, 0.60),
                "random_theta_0.30": (0.4, 0.40, 0.60 - d),
            },
        )
        for seed, d in enumerate([0.01, 0.02, 0.03])
    ]
    table = pruning_table(runs)
    assert len(table) == 9 and set(table["method"]) == {"dense", "afcc", "random"}
    row = table[(table["run_id"] == "r1") & (table["method"] == "afcc")].iloc[0]
    assert (row["theta"], row["kept_fraction"], row["pruned_acc"]) == (0.3, 0.4, 0.52)
    assert math.isnan(table[table["method"] == "dense"]["theta"].iloc[0])
    summary = pruning_summary(table, [])
    afcc = summary[(summary["arm"] == "afcc_theta_0.30") & (summary["number"] == "pruned_acc")]
    assert afcc["n"].item() == 3 and afcc["mean"].item() == pytest.approx(0.52)
    tests = pruning_tests(table, []).set_index("number")
    assert list(tests["control"]) == ["random", "random"]
    # right after pruning: differences 0.11, 0.12, 0.13 (mean 0.12, sd 0.01, t = 0.12/(0.01/sqrt 3))
    before = tests.loc["pruned_acc"]
    assert before["diff"] == pytest.approx(0.12) and before["t"] == pytest.approx(12 * math.sqrt(3))
    assert before["n"] == 3 and before["df"] == 2 and before["differs"]
    after = tests.loc["finetuned_acc"]
    assert after["diff"] == pytest.approx(0.02) and after["ci_low"] < 0.02 < after["ci_high"]
    assert pruning_table([RUNS[0]]).empty
