"""RESULTS.md's number-of-labels sections ("Towards a universal mechanism"): whole chains on
random K-label subsets (``make labels``, then ``make compare LAST=1``), the compare output
copied to ``docs/results/labels_<dataset>/``: ``runs.csv`` (one row per subset: ``labels`` is
K, ``data.classes`` the subset) and ``layers.csv`` (each subset's numbers per layer). The
numbers are the last probed layer's, where the paper measures them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from filterscope.report.stats import interval
from filterscope.results.markdown import Column, table
from filterscope.results.sections import MECHANISM, Tables, acc, col, keyed, pvalue, sig

K, SUBSET = "labels", "data.classes"
NUMBERS = {"test_error": ("test error", acc)} | {
    m: MECHANISM[m] for m in ("clusters_per_filter", "mean_cluster_size", "noise_per_filter")
}
NUMBERS["snr_threshold"] = ("SNR (threshold)", sig)
"""The numbers each subset gives, with their headings and formats."""
WITH_INTERVAL = ("clusters_per_filter", "snr_threshold")
"""The numbers :func:`by_k` gives with their 95% t interval over a K's subsets."""


def last_layer(runs: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """One row per subset, sorted by K: K, the subset, its test error and the mechanism's
    numbers at its deepest probed layer."""
    deepest = layers[layers["layer"] == layers["layer"].max()]
    merged = runs.assign(test_error=1 - runs["test_acc"]).merge(
        deepest.drop(columns=[K, SUBSET]), on="run_id", validate="one_to_one"
    )
    return merged.sort_values([K, "test_error"], kind="stable", ignore_index=True)


def _mean(values: pd.Series, fmt: object, spread: bool) -> str:
    """The mean of ``values``; with ``spread``, its 95% t interval in brackets."""
    mean = interval(list(values))
    shown = fmt(mean.mean)  # type: ignore[operator]
    if not spread or math.isnan(mean.ci_low):
        return shown
    return f"{shown} ({fmt(mean.ci_low)} to {fmt(mean.ci_high)})"  # type: ignore[operator]


def by_k(subsets: pd.DataFrame) -> str:
    """Per K: each number's mean over its subsets (test error: each subset's too; clusters and
    SNR with their 95% t interval)."""
    rows = []
    for k, group in subsets.groupby(K, sort=True):
        row = {"K": str(k), "subsets": str(len(group))}
        for metric, (heading, fmt) in NUMBERS.items():
            row[heading] = _mean(group[metric], fmt, metric in WITH_INTERVAL)
            if metric == "test_error":
                row["per subset"] = ", ".join(fmt(v) for v in sorted(group[metric]))
        rows.append(row)
    return keyed(rows)


def per_subset(subsets: pd.DataFrame) -> str:
    """One row per subset: K, its labels and its numbers."""
    columns = [col("K", K, str), Column("subset", lambda r: f"`{r[SUBSET]}`")]
    columns += [col(heading, metric, fmt) for metric, (heading, fmt) in NUMBERS.items()]
    return table(columns, subsets.to_dict("records"))


def slopes(subsets: pd.DataFrame) -> str:
    """Per number, the least-squares line through every subset against K: its slope per label,
    the slope's standard error, r and the p of a zero slope; subsets with an infinite number
    (an SNR without noise) left out and counted."""
    rows = []
    for metric, (heading, _) in NUMBERS.items():
        finite = subsets[np.isfinite(subsets[metric])]
        fit = stats.linregress(finite[K].astype(float), finite[metric])
        rows.append(
            {
                "number": heading,
                "slope per label": f"{fit.slope:+.3g}",
                "standard error": sig(fit.stderr),
                "r": f"{fit.rvalue:.2f}",
                "p": pvalue(fit.pvalue),
                "subsets": str(len(finite)),
                "left out": str(len(subsets) - len(finite)),
            }
        )
    return keyed(rows)


def _subsets(root: Path, folder: str) -> pd.DataFrame:
    data = root / folder
    return last_layer(pd.read_csv(data / "runs.csv"), pd.read_csv(data / "layers.csv"))


def fashion_mnist(root: Path) -> dict[str, str]:
    """ "The number of labels: Fashion-MNIST": the tutorial ConvNet, three subsets per K."""
    subsets = _subsets(root, "labels_fashion_mnist")
    return {
        "labels_fashion_mnist/by_k": by_k(subsets),
        "labels_fashion_mnist/slopes": slopes(subsets),
        "labels_fashion_mnist/subsets": per_subset(subsets),
    }


def cifar10_subset(root: Path) -> dict[str, str]:
    """ "The number of labels: the CIFAR-10 subset": the default VGG-16, two subsets per K."""
    subsets = _subsets(root, "labels_cifar10_subset")
    return {
        "labels_cifar10_subset/subsets": per_subset(subsets),
        "labels_cifar10_subset/slopes": slopes(subsets),
    }


SECTIONS: dict[str, Tables] = {
    "The number of labels: Fashion-MNIST, the tutorial ConvNet, random K-label subsets": (
        fashion_mnist
    ),
    "The number of labels: the CIFAR-10 subset, the default VGG-16 profile": cifar10_subset,
}
"""The rendered number-of-labels sections by heading."""
