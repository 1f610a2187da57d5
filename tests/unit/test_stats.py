"""Seed statistics on hand-made run tables with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from filterscope.report.stats import (
    aggregate,
    epoch_intervals,
    holm,
    interval,
    paired,
    pairwise,
    welch,
)

T_975_2 = 4.302653  # Student t, 97.5% quantile, 2 degrees of freedom (printed tables: 4.303)


def t4_two_sided(t: float) -> float:
    """Two-sided p of Student's t with 4 degrees of freedom, from its closed-form CDF."""
    u = t * t / (1 + t * t / 4)
    cdf = 0.5 + 3 / 8 * abs(t) / math.sqrt(1 + t * t / 4) * (1 - u / 12)
    return 2 * (1 - cdf)


def test_interval_by_hand() -> None:
    ci = interval([0.90, 0.92, 0.94])
    assert ci.n == 3 and math.isclose(ci.mean, 0.92) and math.isclose(ci.std, 0.02)
    half = T_975_2 * 0.02 / math.sqrt(3)
    assert math.isclose(ci.ci_low, 0.92 - half, abs_tol=1e-7)
    assert math.isclose(ci.ci_high, 0.92 + half, abs_tol=1e-7)
    one = interval([0.5, math.nan])  # NaNs dropped: one value, no spread
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.std) and math.isnan(one.ci_low)
    assert interval([]).n == 0 and math.isnan(interval([]).mean)
    endless = interval([2.0, math.inf, math.inf])  # an SNR without noise is infinite
    assert endless.n == 3 and endless.mean == math.inf and math.isnan(endless.ci_low)
    assert math.isnan(interval([-math.inf, math.inf]).mean)


@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=30), st.sampled_from([0.5, 0.9, 0.99]))
def test_interval_holds_the_mean_and_widens_with_the_level(xs: list[float], level: float) -> None:
    ci, wider = interval(xs, level), interval(xs, 0.999)
    assert ci.ci_low <= ci.mean + 1e-9 and ci.mean <= ci.ci_high + 1e-9
    assert wider.ci_low <= ci.ci_low + 1e-9 and ci.ci_high <= wider.ci_high + 1e-9


def test_welch_by_hand() -> None:
    equal = welch([1, 2, 3], [4, 5, 6])  # variances 1 and 1, se = sqrt(2/3)
    assert math.isclose(equal.t, -3 / math.sqrt(2 / 3)) and math.isclose(equal.df, 4.0)
    assert math.isclose(equal.p, t4_two_sided(equal.t), rel_tol=1e-6)
    assert math.isclose(equal.p, 0.021312, rel_tol=1e-4)
    # variances 5/3 and 4: se^2 = 5/12 + 4/3 = 7/4; Welch-Satterthwaite df = 3.2347
    unequal = welch([1, 2, 3, 4], [2, 4, 6])
    assert math.isclose(unequal.t, -1.5 / math.sqrt(7 / 4))
    df = (7 / 4) ** 2 / ((5 / 12) ** 2 / 3 + (4 / 3) ** 2 / 2)
    assert math.isclose(unequal.df, df)
    for undefined in (welch([1], [2, 3]), welch([1, 1], [2, 2]), welch([1, math.inf], [2, 3])):
        assert math.isnan(undefined.t) and math.isnan(undefined.p)


def test_holm_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 1 x 0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # clipped at 1
    adjusted = holm([math.nan, 0.02])
    assert math.isnan(adjusted[0]) and adjusted[1] == pytest.approx(0.02)  # one test, no cost


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_never_lowers_a_p_and_keeps_the_order(ps: list[float]) -> None:
    adjusted = holm(ps)
    assert all(a >= p - 1e-12 and a <= 1.0 for a, p in zip(adjusted, ps, strict=True))
    order = np.argsort(ps, kind="stable")
    assert all(np.diff(np.asarray(adjusted)[order]) >= -1e-12)


RUNS = pd.DataFrame(
    {
        "model.dropout": ["0.5", "0.0", "0.5", "0.0", "0.5", "0.0", "0.25"],
        "seed": ["0", "0", "1", "1", "2", "2", "0"],
        "test_acc": [4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 9.0],
    }
)


def test_aggregate_per_setting_in_swept_value_order() -> None:
    table = aggregate(RUNS, ["model.dropout"])
    assert list(table["model.dropout"]) == ["0.0", "0.25", "0.5"]
    assert list(table["n"]) == [3, 1, 3] and list(table["mean"]) == [2.0, 9.0, 5.0]
    assert list(table["std"][[0, 2]]) == [1.0, 1.0] and math.isnan(table["std"][1])
    assert table["ci_high"][0] - table["mean"][0] == pytest.approx(T_975_2 / math.sqrt(3))
    everything = aggregate(RUNS, [])  # a sweep of seeds alone: one setting
    assert list(everything["n"]) == [7] and everything["mean"][0] == pytest.approx(30 / 7)


def test_pairwise_states_the_tests() -> None:
    tests = pairwise(RUNS, ["model.dropout"])
    assert list(zip(tests["a"], tests["b"], strict=True)) == [
        ("model.dropout=0.0", "model.dropout=0.25"),
        ("model.dropout=0.0", "model.dropout=0.5"),
        ("model.dropout=0.25", "model.dropout=0.5"),
    ]
    row = tests.iloc[1]  # 1, 2, 3 against 4, 5, 6: the Welch example above
    assert row["diff"] == -3.0 and row["df"] == pytest.approx(4.0)
    assert row["p"] == pytest.approx(0.021312, rel=1e-4)
    assert row["p_holm"] == pytest.approx(row["p"])  # the only pair a test is defined for
    assert bool(row["differs"])
    single = tests.iloc[0]  # 0.25 has one seed: no test, never called different
    assert math.isnan(single["p"]) and not bool(single["differs"])


def test_epoch_intervals_follow_the_runs_that_reached_each_epoch() -> None:
    bands = epoch_intervals([[1.0, 2.0, 3.0], [3.0, 4.0]])
    assert [b.n for b in bands] == [2, 2, 1]
    assert [b.mean for b in bands] == [2.0, 3.0, 3.0]
    assert math.isnan(bands[2].ci_low)  # one run left: no band


def test_paired_by_hand() -> None:
    # differences 1, 2, 3, 4, 5: mean 3, sd sqrt(2.5), se sqrt(0.5), t = 3 / sqrt(0.5), df 4
    test = paired([2, 4, 6, 8, 10], [1, 2, 3, 4, 5])
    assert math.isclose(test.t, 3 / math.sqrt(0.5)) and test.df == 4.0
    assert math.isclose(test.p, t4_two_sided(test.t), rel_tol=1e-6)
    # Welch on the same numbers ignores the pairing: a weaker test
    assert welch([2, 4, 6, 8, 10], [1, 2, 3, 4, 5]).p > test.p
    for undefined in (paired([1], [2]), paired([1, 2], [0, 1]), paired([1, math.inf], [0, 1])):
        assert math.isnan(undefined.t) and math.isnan(undefined.p)
