"""Statistics over seeds, tables in and tables out: per setting the mean, standard deviation and
Student t interval of a metric; between settings Welch's t-test, Holm-adjusted over all pairs."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

LEVEL = 0.95
ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    """A sample's size, mean, standard deviation (n - 1) and the t interval of its mean."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


def interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """The ``level`` Student t interval of the mean of ``values`` (NaNs dropped); with one value,
    or an infinite one, the mean alone (NaN spread); with none all NaN."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n < 2 or np.isinf(x).any():
        mean = float(x.sum() / n) if n and len(set(np.sign(x[np.isinf(x)]))) < 2 else math.nan
        return Interval(n, mean, math.nan, math.nan, math.nan)
    mean, std = float(x.mean()), float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return Interval(n, mean, std, mean - half, mean + half)


def epoch_intervals(histories: Sequence[Sequence[float]], level: float = LEVEL) -> list[Interval]:
    """Per epoch, the interval over the histories that reached it (runs may stop early)."""
    epochs = max((len(h) for h in histories), default=0)
    return [interval([h[e] for h in histories if len(h) > e], level) for e in range(epochs)]


def value_key(value: object) -> tuple[int, float | str]:
    """Sort key of swept values: numbers in numeric order, before anything else in text order."""
    try:
        return (0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (1, str(value))


def _settings(table: pd.DataFrame, by: Sequence[str]) -> list[tuple[tuple[object, ...], pd.Series]]:
    """(values of ``by``, that setting's rows' index) per setting, in swept-value order."""
    if not by:
        return [((), table.index.to_series())]
    groups = table.groupby(list(by), sort=False, dropna=False).groups
    keyed = {(k if isinstance(k, tuple) else (k,)): v.to_series() for k, v in groups.items()}
    return sorted(keyed.items(), key=lambda kv: [value_key(v) for v in kv[0]])


def aggregate(
    table: pd.DataFrame, by: Sequence[str], metric: str = "test_acc", level: float = LEVEL
) -> pd.DataFrame:
    """One row per setting (combination of the ``by`` columns): n, mean, std, ci_low, ci_high of
    ``metric`` over its runs (the seeds)."""
    rows = [
        {**dict(zip(by, key, strict=True)), **asdict(interval(table.loc[idx, metric], level))}
        for key, idx in _settings(table, by)
    ]
    return pd.DataFrame(rows, columns=[*by, "n", "mean", "std", "ci_low", "ci_high"])


@dataclass(frozen=True)
class Welch:
    """Welch's unequal-variance t-test of two samples' means (two-sided)."""

    t: float
    df: float
    p: float


def welch(a: Sequence[float], b: Sequence[float]) -> Welch:
    """Welch's t-test of ``a`` against ``b``; NaN where it is undefined (fewer than two values
    on a side, an infinite value, or no spread on either)."""
    x, y = (np.asarray(s, dtype=float) for s in (a, b))
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if (
        min(len(x), len(y)) < 2
        or not np.isfinite([*x, *y]).all()
        or x.var(ddof=1) + y.var(ddof=1) == 0
    ):
        return Welch(math.nan, math.nan, math.nan)
    result = stats.ttest_ind(x, y, equal_var=False)
    return Welch(float(result.statistic), float(result.df), float(result.pvalue))


def paired(a: Sequence[float], b: Sequence[float]) -> Welch:
    """The paired t-test of ``a`` against ``b`` (two-sided; the same runs on both sides, so the
    differences ``a - b`` are the sample; df = n - 1); NaN where it is undefined (fewer than two
    pairs, an infinite value, or differences without spread)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[~np.isnan(d)]
    if len(d) < 2 or not np.isfinite(d).all() or d.var(ddof=1) == 0:
        return Welch(math.nan, math.nan, math.nan)
    result = stats.ttest_1samp(d, 0.0)
    return Welch(float(result.statistic), float(len(d) - 1), float(result.pvalue))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (family-wise error over those that are not
    NaN; NaNs stay NaN)."""
    p = np.asarray(pvalues, dtype=float)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    adjusted = np.full(len(p), math.nan)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def _name(by: Sequence[str], key: tuple[object, ...]) -> str:
    return ", ".join(f"{p}={v}" for p, v in zip(by, key, strict=True)) or "all runs"


def pairwise(
    table: pd.DataFrame, by: Sequence[str], metric: str = "test_acc", alpha: float = ALPHA
) -> pd.DataFrame:
    """Every pair of settings: both means, their difference (a - b), Welch's t, df and p, the
    Holm-adjusted p over all pairs, and whether the settings differ at ``alpha`` after it."""
    settings = _settings(table, by)
    rows = []
    for (ka, ia), (kb, ib) in itertools.combinations(settings, 2):
        a, b = table.loc[ia, metric], table.loc[ib, metric]
        rows.append(
            {
                "a": _name(by, ka),
                "b": _name(by, kb),
                "mean_a": float(a.mean()),
                "mean_b": float(b.mean()),
                "diff": float(a.mean() - b.mean()),
                **asdict(welch(a, b)),
            }
        )
    columns = ["a", "b", "mean_a", "mean_b", "diff", "t", "df", "p", "p_holm", "differs"]
    out = pd.DataFrame(rows, columns=columns[:-2])
    out["p_holm"] = holm(list(out["p"]))
    out["differs"] = out["p_holm"] < alpha
    return out[columns]
