"""Normalisation, thresholding, greedy clusters, noise and the cluster indicator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from filterscope.analysis import (
    cluster_indicator,
    find_clusters,
    noise,
    normalise,
    threshold,
)


def _b(rows: list[str]) -> np.ndarray:
    """A thresholded matrix written as strings of 0/1, one row per label."""
    return np.array([[c == "1" for c in row] for row in rows])


bool_matrices = st.integers(1, 8).flatmap(lambda k: arrays(np.bool_, (k, k)))
field_matrices = st.integers(1, 6).flatmap(
    lambda k: arrays(
        np.float64, (k, k), elements=st.floats(-1e6, 1e6, allow_subnormal=False, width=64)
    )
)


# --- normalise / threshold -------------------------------------------------------------------


def test_normalise_divides_by_the_signed_max() -> None:
    m = np.array([[-10.0, 2.0], [1.0, -8.0]])
    np.testing.assert_allclose(normalise(m), [[-5.0, 1.0], [0.5, -4.0]])


@pytest.mark.parametrize(
    "m", [np.array([[-1.0, -2.0], [-0.5, -3.0]]), np.array([[0.0, -2.0], [-0.5, 0.0]])]
)
def test_silent_filter_has_no_normalised_matrix(m: np.ndarray) -> None:
    assert normalise(m) is None


def test_normalise_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="square"):
        normalise(np.ones((2, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        normalise(np.array([[1.0, np.nan], [0.0, 1.0]]))


def test_threshold_is_strict() -> None:
    mn = np.array([[1.0, 0.3], [0.30000001, 0.2999]])
    np.testing.assert_array_equal(threshold(mn), [[True, False], [True, False]])
    np.testing.assert_array_equal(threshold(mn, theta=0.25), [[True, True], [True, True]])


def test_threshold_at_exactly_theta_after_normalisation() -> None:
    b = threshold(normalise(np.array([[10.0, 3.0], [3.0000001, 2.0]])))
    np.testing.assert_array_equal(b, [[True, False], [True, False]])


@given(field_matrices)
def test_normalised_max_is_one(m: np.ndarray) -> None:
    mn = normalise(m)
    if m.max() <= 0:
        assert mn is None
    else:
        assert mn.max() == 1.0


# --- greedy clusters ---------------------------------------------------------------------------


def test_candidate_failing_the_first_cluster_joins_a_later_one() -> None:
    b = _b(["1101", "1100", "0011", "1011"])
    # 3 is tried against {0, 1} and fails (B[1, 3] = 0); then 2 seeds a cluster and 3 joins it.
    assert find_clusters(b) == [(0, 1), (2, 3)]


def test_greedy_order_beats_a_larger_clique() -> None:
    # {1, 2, 3} is an all-ones block (a maximal clique of size 3), but the greedy rule seeds at 0,
    # takes 1 first, and is left with {2, 3}.
    b = _b(["1100", "1111", "0111", "0111"])
    assert b[np.ix_([1, 2, 3], [1, 2, 3])].all()
    assert find_clusters(b) == [(0, 1), (2, 3)]


def test_no_diagonal_ones_means_no_clusters() -> None:
    b = _b(["011", "101", "110"])
    assert find_clusters(b) == []
    assert noise(b, []) == 6


def test_block_must_be_all_ones_in_both_directions() -> None:
    b = _b(["110", "010", "001"])  # B[0, 1] = 1 but B[1, 0] = 0
    assert find_clusters(b) == [(0,), (1,), (2,)]


def test_label_without_diagonal_one_never_joins() -> None:
    b = _b(["111", "111", "110"])  # 2 has all off-diagonal links but B[2, 2] = 0
    assert find_clusters(b) == [(0, 1)]


def test_noise_by_hand() -> None:
    b = _b(["1101", "1100", "0011", "1011"])  # 10 ones; clusters (0,1), (2,3) cover 8
    assert noise(b, find_clusters(b)) == 2


def test_cluster_indicator() -> None:
    expected = _b(["1100", "1100", "0000", "0001"])
    np.testing.assert_array_equal(cluster_indicator([(0, 1), (3,)], 4), expected)
    assert not cluster_indicator([], 3).any()


def test_clusters_accept_integer_matrices_but_not_other_values() -> None:
    assert find_clusters(np.array([[1, 1], [1, 1]])) == [(0, 1)]
    with pytest.raises(ValueError, match="0/1"):
        find_clusters(np.array([[2, 0], [0, 1]]))


@given(bool_matrices)
def test_cluster_properties(b: np.ndarray) -> None:
    clusters = find_clusters(b)
    members = [label for s in clusters for label in s]
    assert len(members) == len(set(members)), "clusters are disjoint"
    assert sorted(members) == np.flatnonzero(np.diag(b)).tolist(), "every candidate assigned"
    for s in clusters:
        assert list(s) == sorted(s)
        assert b[np.ix_(s, s)].all()
    n = noise(b, clusters)
    assert n >= 0
    assert n + sum(len(s) ** 2 for s in clusters) == b.sum()
    indicator = cluster_indicator(clusters, len(b))
    assert not (indicator & ~b).any(), "cluster blocks lie inside B"
    assert indicator.sum() == sum(len(s) ** 2 for s in clusters)
