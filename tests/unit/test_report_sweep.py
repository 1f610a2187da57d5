"""Sweep comparison tables and figures on hand-made run histories."""

from __future__ import annotations

import math
from pathlib import Path

from filterscope.report.figures import save
from filterscope.report.sweep import (
    RunHistory,
    accuracy_limits,
    accuracy_vs_param,
    curves_by_param,
    rising_epoch,
    summarise,
    swept_params,
)


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
    assert math.isclose(row["seconds_per_epoch"], 8 / 3)
    assert math.isnan(table.set_index("run_id").loc["c"]["val_loss_rises_at"])
    assert "paths.root" not in table.columns


def test_figures_render(tmp_path: Path) -> None:
    curves = curves_by_param(RUNS, "train.lr")
    assert len(curves.axes[0].lines) == 2 * len(RUNS)  # train and validation per run
    accuracy = accuracy_vs_param(summarise(RUNS), "train.lr")
    assert accuracy.axes[0].get_xscale() == "log"  # 0.001 .. 0.1 spans two decades
    assert len(accuracy.axes[0].texts) == len(RUNS)  # every point labelled with its accuracy
    for name, fig in {"curves": curves, "accuracy": accuracy}.items():
        assert save(fig, tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_accuracy_axis_zooms_on_close_accuracies() -> None:
    assert accuracy_limits([0.11, 0.94, 0.99]) == (0.0, 1.0)  # a diverged run: the whole range
    low, high = accuracy_limits([0.9853, 0.9878])
    assert math.isclose(low, 0.9813) and math.isclose(high, 0.9918)  # padded by 0.004
    assert accuracy_limits([0.999, 0.999]) == (0.995, 1.0)  # never above 1
