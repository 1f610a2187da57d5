"""Comparing the runs of a sweep: one table row per run, curves and accuracy per swept parameter.

A sweep may repeat every setting over seeds (``seed`` swept too): seeds are replicates, not a
swept parameter, and the figures then show each setting's mean with its 95% t interval. In a
sweep over label subsets of different sizes, the swept value is their size K (``labels``) and
the subsets of one K are replicates too."""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from filterscope.report.figures import plt  # the headless backend, selected there
from filterscope.report.stats import (
    ALPHA,
    Welch,
    aggregate,
    epoch_intervals,
    holm,
    interval,
    paired,
    value_key,
)
from filterscope.runs import LAYER_METRICS, PRUNING_METRIC, PRUNING_SUFFIXES, RunHistory

REPLICATE = "seed"
SUBSET = "data.classes"
LABELS = "labels"  # K: how many labels a run's data.classes keeps


def with_label_counts(runs: Sequence[RunHistory]) -> list[RunHistory]:
    """The runs with ``labels`` (K) among their params where ``data.classes`` names a subset."""
    counted = []
    for r in runs:
        try:
            subset = ast.literal_eval(r.params.get(SUBSET, "None"))
        except (ValueError, SyntaxError):
            subset = None
        params = {**r.params, LABELS: str(len(subset))} if isinstance(subset, list) else r.params
        counted.append(replace(r, params=params))
    return counted


def _varying(runs: Sequence[RunHistory]) -> list[str]:
    """The params whose values differ between runs, sorted. Excluded: ``paths.*`` (per-job dirs)
    and keys some runs lack (a config key added while the sweep ran is not a swept value)."""
    keys = sorted(set.intersection(*(set(r.params) for r in runs))) if runs else []
    return [k for k in keys if not k.startswith("paths.") and len({r.params[k] for r in runs}) > 1]


def replicates(runs: Sequence[RunHistory]) -> list[str]:
    """The params that vary between runs of one setting: the seed, and the label subset when
    the number of labels is what is swept (its subsets are then draws, as seeds are)."""
    return _replicates(_varying(runs))


def _replicates(varying: Sequence[str]) -> list[str]:
    return [p for p in (REPLICATE, SUBSET) if p in varying and (p != SUBSET or LABELS in varying)]


def swept_params(runs: Sequence[RunHistory]) -> list[str]:
    """The swept params: those that vary between runs, :func:`replicates` excepted."""
    varying = _varying(runs)
    repeats = _replicates(varying)
    return [k for k in varying if k not in repeats]


def rising_epoch(val_loss: Sequence[float]) -> int | None:
    """The 1-based epoch after the validation-loss minimum: where it starts rising (None if the
    minimum is the last epoch)."""
    if not val_loss:
        return None
    best = int(np.argmin(val_loss))
    return best + 2 if best + 1 < len(val_loss) else None


def _at(values: Sequence[float], index: int) -> float:
    return values[index] if values else math.nan


def summarise(runs: Sequence[RunHistory]) -> pd.DataFrame:
    """One row per run: swept values (and replicates), test accuracy, best validation epoch,
    the epoch where validation loss starts rising, the validation loss after the first epoch,
    at its lowest and after the last, the last epoch's training minus validation accuracy
    (how much it overfits), mean seconds per epoch; sorted by test accuracy."""
    params = swept_params(runs) + replicates(runs)
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
                "val_loss_first": _at(val_loss, 0),
                "val_loss_min": min(val_loss) if val_loss else math.nan,
                "val_loss_final": _at(val_loss, -1),
                "train_val_gap": _at(r.history.get("train_acc", []), -1) - _at(val_acc, -1),
                "seconds_per_epoch": float(np.mean(seconds)) if seconds else math.nan,
                "run_id": r.run_id,
            }
        )
    return pd.DataFrame(rows).sort_values("test_acc", ascending=False, ignore_index=True)


def _settings(runs: Sequence[RunHistory]) -> dict[tuple[str | None, ...], list[RunHistory]]:
    """The runs of each setting (values of all swept params; its seeds), in swept-value order."""
    by = swept_params(runs)
    settings: dict[tuple[str | None, ...], list[RunHistory]] = {}
    for r in runs:
        settings.setdefault(tuple(r.params.get(p) for p in by), []).append(r)
    return dict(sorted(settings.items(), key=lambda kv: [value_key(v) for v in kv[0]]))


def curves_by_param(runs: Sequence[RunHistory], param: str) -> Figure:
    """Training (solid) and validation (dashed) loss and accuracy per epoch, one colour per value
    of ``param``; per setting its one run, or its seeds' mean with a band for the 95% t
    interval (clipped to the metric's range)."""
    settings = _settings(runs)
    values = sorted({r.params.get(param) for r in runs}, key=value_key)
    colours = dict(zip(values, colormaps["viridis"](np.linspace(0, 0.9, len(values))), strict=True))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("loss", "acc"), strict=True):
        for group in settings.values():
            colour = colours[group[0].params.get(param)]
            for split, style in (("train", "-"), ("val", "--")):
                bands = epoch_intervals([r.history.get(f"{split}_{metric}", []) for r in group])
                epochs = range(1, len(bands) + 1)
                ax.plot(epochs, [b.mean for b in bands], style, color=colour, alpha=0.8)
                if len(group) > 1:  # clipped to the metric's range: [0, 1], or >= 0
                    low, high = [[getattr(b, end) for b in bands] for end in ("ci_low", "ci_high")]
                    top = 1.0 if metric == "acc" else None
                    ax.fill_between(epochs, np.clip(low, 0.0, top), np.clip(high, 0.0, top),
                                    color=colour, alpha=0.15, linewidth=0)  # fmt: skip
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else "cross-entropy loss")
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=colours[v], label=f"{param}={v}") for v in values]
    handles += [
        Line2D([], [], color="grey", linestyle=s, label=n)
        for s, n in (("-", "train"), ("--", "validation"))
    ]
    axes[1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    seeds = max(len(g) for g in settings.values())
    band = f": mean and 95% interval over {seeds} seeds" if seeds > 1 else ""
    fig.suptitle(f"Training histories by {param}{band}")
    return fig


def accuracy_limits(accuracies: Sequence[float]) -> tuple[float, float]:
    """The accuracy axis: [0, 1], or zoomed on accuracies that lie within 0.1 of each other (so
    that 0.986 and 0.990 do not look equal)."""
    low, high = min(accuracies), max(accuracies)
    if high - low >= 0.1:
        return 0.0, 1.0
    pad = max(high - low, 0.004)
    return max(0.0, low - pad), min(1.0, high + pad)


def _positions(values: Sequence[object]) -> tuple[dict[object, float | str], bool]:
    """Where each swept value goes on the x axis (its number, or its text on a categorical
    axis), and whether the axis should be logarithmic (positive numbers spanning decades)."""
    keys = {v: value_key(v)[1] for v in values}
    numeric = all(isinstance(x, float) for x in keys.values())
    at = {v: (x if numeric else str(x)) for v, x in keys.items()}
    xs = [x for x in at.values() if isinstance(x, float)]
    return at, numeric and min(xs) > 0 and max(xs) / min(xs) >= 100


def _error_bars(ax: Axes, xs: Sequence[object], summary: pd.DataFrame, **style: Any) -> None:
    """``summary``'s 95% t intervals as error bars at ``xs`` (rows with one run have none)."""
    spread = summary["n"].to_numpy() > 1
    if spread.any():
        errors = [summary["mean"] - summary["ci_low"], summary["ci_high"] - summary["mean"]]
        ax.errorbar([x for x, s in zip(xs, spread, strict=True) if s], summary["mean"][spread],
                    yerr=[e[spread] for e in errors], fmt="none", capsize=4, **style)  # fmt: skip


# Every number a comparison draws is non-negative; these are also at most 1.
FRACTIONS = ("test_acc", "probe_accuracy")


def _within(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``summary`` (of ``metric``) with its 95% intervals clipped to the metric's range, [0, 1]
    for :data:`FRACTIONS`, else >= 0: an interval past a bound is drawn to it."""
    high = 1.0 if metric in FRACTIONS else None
    bounds = summary[["ci_low", "ci_high"]].clip(0.0, high)
    return summary.assign(ci_low=bounds["ci_low"], ci_high=bounds["ci_high"])


def accuracy_vs_param(table: pd.DataFrame, param: str, by: Sequence[str]) -> Figure:
    """Test accuracy against ``param`` (log axis when the values span decades), one point per
    setting (values of the swept params ``by``) labelled with its accuracy. With seeds: every
    run as a dot, each setting's mean as a bar with its 95% t interval (clipped to [0, 1]),
    labelled with the mean."""
    summary = _within(aggregate(table, by), "test_acc")
    at, log = _positions(list(summary[param]))
    xs = [at[v] for v in summary[param]]
    seeds = bool((summary["n"] > 1).any())
    fig, ax = plt.subplots(figsize=(6, 4))
    if seeds:
        _error_bars(ax, xs, summary, ecolor="black", zorder=3)
        ax.scatter(xs, summary["mean"], marker="_", s=300, color="black", zorder=3)
        ax.scatter([at[v] for v in table[param]], table["test_acc"], color="tab:blue", s=14,
                   alpha=0.6)  # fmt: skip
    else:
        ax.scatter(xs, summary["mean"], color="tab:blue")
    if log:
        ax.set_xscale("log")
    for x, acc in zip(xs, summary["mean"], strict=True):
        ax.annotate(f"{acc:.4f}", (x, acc), textcoords="offset points", xytext=(8, 6),
                    fontsize=8)  # fmt: skip
    ax.set_xlabel(param)
    ax.set_ylabel("test accuracy" + (" (mean and 95% interval over seeds)" if seeds else ""))
    shown = [*table["test_acc"], *summary["ci_low"], *summary["ci_high"]]
    ax.set_ylim(*accuracy_limits([a for a in shown if not math.isnan(a)]))
    ax.grid(alpha=0.3)
    ax.set_title(f"Test accuracy vs {param}")
    return fig


def layer_table(runs: Sequence[RunHistory]) -> pd.DataFrame:
    """One row per run and probed layer: swept values (and replicates), ``layer`` and the
    mechanism's numbers (:data:`LAYER_METRICS` the runs logged); empty when no run logged
    any."""
    params = swept_params(runs) + replicates(runs)
    rows = [
        {**{p: r.params.get(p) for p in params}, "layer": layer, "run_id": r.run_id}
        | {m: r.layers[m].get(layer, math.nan) for m in r.layers}
        for r in runs
        for layer in sorted(set().union(*r.layers.values()))
    ]
    present = [m for m in LAYER_METRICS if any(m in r.layers for r in runs)]
    return pd.DataFrame(rows, columns=[*params, "layer", *present, "run_id"])


def mechanism_table(layers: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per setting (values of ``by``), layer and per-layer number (``statistic``) of
    :func:`layer_table`'s rows: n, mean, std and 95% t interval over the seeds."""
    parts = [
        aggregate(layers, [*by, "layer"], metric).assign(statistic=metric)
        for metric in LAYER_METRICS
        if metric in layers
    ]
    return pd.concat(parts, ignore_index=True)


PRUNING_NUMBERS = tuple(suffix[1:] for suffix in PRUNING_SUFFIXES)
"""The numbers of a pruning arm: ``kept_fraction``, ``pruned_acc``, ``finetuned_acc``."""


def pruning_table(runs: Sequence[RunHistory]) -> pd.DataFrame:
    """One row per run and pruning arm: swept values (and replicates), ``arm``, ``method``,
    ``theta`` and the arm's numbers (:data:`PRUNING_NUMBERS`); empty when no run pruned."""
    params = swept_params(runs) + replicates(runs)
    rows = []
    for r in runs:
        matches = (PRUNING_METRIC.fullmatch(k) for k in r.pruning)
        arms = {m["arm"]: m for m in matches if m}  # each arm's name, method and theta
        for arm, m in sorted(arms.items()):
            method, theta = m["method"] or arm, float(m["theta"]) if m["theta"] else None
            numbers = {n: r.pruning.get(f"{arm}_{n}", math.nan) for n in PRUNING_NUMBERS}
            rows.append(
                {**{p: r.params.get(p) for p in params}, "arm": arm, "method": method}
                | {"theta": theta, **numbers, "run_id": r.run_id}
            )
    columns = [*params, "arm", "method", "theta", *PRUNING_NUMBERS, "run_id"]
    return pd.DataFrame(rows, columns=columns)


def pruning_summary(pruned: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per setting (values of ``by``), arm and number: n, mean, std and 95% t interval over the
    seeds."""
    parts = [
        aggregate(pruned, [*by, "arm"], number).assign(number=number) for number in PRUNING_NUMBERS
    ]
    return pd.concat(parts, ignore_index=True)


def pruning_tests(pruned: pd.DataFrame, by: Sequence[str], alpha: float = ALPHA) -> pd.DataFrame:
    """AFCC against each control at each threshold, within each setting, right after pruning
    and after fine-tuning: the mean of the per-run differences (AFCC minus the control, on the
    same backbone) with its 95% t interval, the paired t-test and the Holm-adjusted p over all
    rows; ``differs`` at ``alpha``."""
    rows = []
    keys = [*by, "theta"]
    for key, group in pruned[pruned["theta"].notna()].groupby(keys, sort=True, dropna=False):
        values = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        afcc = group[group["method"] == "afcc"].set_index("run_id")
        for control in sorted(set(group["method"]) - {"afcc"}):
            other = group[group["method"] == control].set_index("run_id")
            shared = afcc.index.intersection(other.index)
            for number in ("pruned_acc", "finetuned_acc"):
                a, b = afcc.loc[shared, number], other.loc[shared, number]
                diff = interval(list(a - b))
                test: Welch = paired(a, b)
                rows.append(
                    {**values, "control": control, "number": number, "n": diff.n}
                    | {"diff": diff.mean, "ci_low": diff.ci_low, "ci_high": diff.ci_high}
                    | {"t": test.t, "df": test.df, "p": test.p}
                )
    columns = [*keys, "control", "number", "n", "diff", "ci_low", "ci_high", "t", "df", "p"]
    out = pd.DataFrame(rows, columns=columns)
    out["p_holm"] = holm(list(out["p"]))
    out["differs"] = out["p_holm"] < alpha
    return out


def _panels(count: int) -> tuple[Figure, np.ndarray]:
    """A figure of ``count`` panels, three to a row (the unused ones hidden)."""
    columns = min(3, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, axes


def mechanism_vs_param(layers: pd.DataFrame, param: str, by: Sequence[str]) -> Figure:
    """Each of the mechanism's numbers against ``param``: a panel per number, a line per probed
    layer (and value of any other swept param), each point a setting's mean with its 95% t
    interval over seeds (clipped to the number's range)."""
    present = [m for m in LAYER_METRICS if m in layers]
    others = [p for p in by if p != param]
    at, log = _positions(sorted(set(layers[param]), key=value_key))
    depth = sorted(set(layers["layer"]))
    colours = colormaps["viridis"](np.linspace(0, 0.9, len(depth)))
    fig, axes = _panels(len(present))
    for ax, metric in zip(axes.flat, present, strict=False):
        summary = _within(aggregate(layers, [*others, "layer", param], metric), metric)
        for key, line in summary.groupby([*others, "layer"], sort=False):
            keys = key if isinstance(key, tuple) else (key,)
            colour = colours[depth.index(keys[-1])]  # rows already in swept-value order
            xs = [at[v] for v in line[param]]
            label = ", ".join([*(f"{p}={v}" for p, v in zip(others, keys, strict=False)),
                               f"layer {keys[-1]}"])  # fmt: skip
            ax.plot(xs, line["mean"], "o-", color=colour, markersize=3, label=label)
            _error_bars(ax, xs, line, ecolor=colour, alpha=0.7)
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(param)
        ax.set_title(metric.replace("_", " "), fontsize=10)
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if len(labels) <= 16:
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle(f"The mechanism per layer vs {param} (mean and 95% interval over seeds)")
    fig.tight_layout()
    return fig


def mechanism_by_layer(layers: pd.DataFrame, by: Sequence[str]) -> Figure:
    """Each of the mechanism's numbers against the layer (the papers' view of a deep network):
    a panel per number, a line per setting (values of ``by``), its mean over seeds with a band
    for the 95% t interval (clipped to the number's range)."""
    present = [m for m in LAYER_METRICS if m in layers]
    fig, axes = _panels(len(present))
    for ax, metric in zip(axes.flat, present, strict=False):
        summary = _within(aggregate(layers, [*by, "layer"], metric), metric)
        settings = list(summary.groupby(list(by), sort=False)) if by else [((), summary)]
        colours = colormaps["viridis"](np.linspace(0, 0.9, len(settings)))
        for colour, (key, line) in zip(colours, settings, strict=True):
            keys = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{p}={v}" for p, v in zip(by, keys, strict=True))
            ax.plot(line["layer"], line["mean"], "o-", color=colour, markersize=3, label=label)
            if (line["n"] > 1).any():
                ax.fill_between(line["layer"], line["ci_low"], line["ci_high"], color=colour,
                                alpha=0.12, linewidth=0)  # fmt: skip
        ax.set_xlabel("layer")
        ax.set_title(metric.replace("_", " "), fontsize=10)
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle("The mechanism by layer per setting (mean and 95% interval over seeds)")
    fig.tight_layout()
    return fig
