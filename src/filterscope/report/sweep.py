"""Comparing the runs of a sweep: one table row per run, curves and accuracy per swept parameter."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from filterscope.report.figures import plt  # the headless backend, selected there


@dataclass(frozen=True)
class RunHistory:
    """One sweep job: its params, test accuracy and per-epoch metric histories."""

    run_id: str
    params: Mapping[str, str]
    test_acc: float
    history: Mapping[str, Sequence[float]] = field(default_factory=dict)


def swept_params(runs: Sequence[RunHistory]) -> list[str]:
    """The params whose values differ between runs, sorted. Excluded: ``paths.*`` (per-job dirs)
    and keys some runs lack (a config key added while the sweep ran is not a swept value)."""
    keys = sorted(set.intersection(*(set(r.params) for r in runs))) if runs else []
    return [k for k in keys if not k.startswith("paths.") and len({r.params[k] for r in runs}) > 1]


def rising_epoch(val_loss: Sequence[float]) -> int | None:
    """The 1-based epoch after the validation-loss minimum: where it starts rising (None if the
    minimum is the last epoch)."""
    if not val_loss:
        return None
    best = int(np.argmin(val_loss))
    return best + 2 if best + 1 < len(val_loss) else None


def summarise(runs: Sequence[RunHistory]) -> pd.DataFrame:
    """One row per run: swept values, test accuracy, best validation epoch, the epoch where
    validation loss starts rising, mean seconds per epoch; sorted by test accuracy."""
    params = swept_params(runs)
    rows = []
    for r in runs:
        val_acc, val_loss = r.history.get("val_acc", []), r.history.get("val_loss", [])
        seconds = r.history.get("seconds", [])
        rows.append(
            {
                **{p: r.params.get(p) for p in params},
                "test_acc": r.test_acc,
                "best_val_epoch": int(np.argmax(val_acc)) + 1 if val_acc else None,
                "best_val_acc": max(val_acc) if val_acc else math.nan,
                "val_loss_rises_at": rising_epoch(val_loss),
                "seconds_per_epoch": float(np.mean(seconds)) if seconds else math.nan,
                "run_id": r.run_id,
            }
        )
    return pd.DataFrame(rows).sort_values("test_acc", ascending=False, ignore_index=True)


def _value_key(value: str | None) -> tuple[int, float | str]:
    """Numbers in numeric order, before anything else in text order."""
    try:
        return (0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (1, str(value))


def curves_by_param(runs: Sequence[RunHistory], param: str) -> Figure:
    """Training (solid) and validation (dashed) loss and accuracy per epoch, one colour per value
    of ``param``."""
    values = sorted({r.params.get(param) for r in runs}, key=_value_key)
    colours = dict(zip(values, colormaps["viridis"](np.linspace(0, 0.9, len(values))), strict=True))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("loss", "acc"), strict=True):
        for r in runs:
            colour = colours[r.params.get(param)]
            for split, style in (("train", "-"), ("val", "--")):
                ys = r.history.get(f"{split}_{metric}", [])
                ax.plot(range(1, len(ys) + 1), ys, style, color=colour, alpha=0.8)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else "cross-entropy loss")
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=colours[v], label=f"{param}={v}") for v in values]
    handles += [
        Line2D([], [], color="grey", linestyle=s, label=n)
        for s, n in (("-", "train"), ("--", "validation"))
    ]
    axes[1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    fig.suptitle(f"Training histories by {param}")
    return fig


def accuracy_limits(accuracies: Sequence[float]) -> tuple[float, float]:
    """The accuracy axis: [0, 1], or zoomed on accuracies that lie within 0.1 of each other (so
    that 0.986 and 0.990 do not look equal)."""
    low, high = min(accuracies), max(accuracies)
    if high - low >= 0.1:
        return 0.0, 1.0
    pad = max(high - low, 0.004)
    return max(0.0, low - pad), min(1.0, high + pad)


def accuracy_vs_param(table: pd.DataFrame, param: str) -> Figure:
    """Test accuracy of every run against ``param``, each point labelled with its value (log axis
    when the values span decades)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [_value_key(v)[1] for v in table[param]]
    numeric = all(isinstance(x, float) for x in xs)
    points = xs if numeric else [str(x) for x in xs]
    ax.scatter(points, table["test_acc"], color="tab:blue")
    if numeric and all(x > 0 for x in xs) and max(xs) / min(xs) >= 100:
        ax.set_xscale("log")
    for x, acc in zip(points, table["test_acc"], strict=True):
        ax.annotate(f"{acc:.4f}", (x, acc), textcoords="offset points", xytext=(0, 6),
                    ha="center", fontsize=8)  # fmt: skip
    ax.set_xlabel(param)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(*accuracy_limits(list(table["test_acc"])))
    ax.grid(alpha=0.3)
    ax.set_title(f"Test accuracy vs {param}")
    return fig
