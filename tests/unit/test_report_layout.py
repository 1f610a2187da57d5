"""Cluster ordering, cell classes, permutation and filter choice for the report figures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from filterscope.analysis import FilterAnalysis, cluster_indicator, find_clusters, noise
from filterscope.report.layout import (
    CELL_BELOW,
    CELL_CLUSTER,
    CELL_NOISE,
    cell_classes,
    choose_filters,
    cluster_order,
    permute,
)

# K = 6, clusters (1, 4) and (0, 2, 5), noise cells (3, 1) and (4, 2); worked out by hand.
CLUSTERS = [(1, 4), (0, 2, 5)]
CELLS = np.array(
    [
        [1, 0, 1, 0, 0, 1],
        [0, 1, 0, 0, 1, 0],
        [1, 0, 1, 0, 0, 1],
        [0, 2, 0, 0, 0, 0],
        [0, 1, 2, 0, 1, 0],
        [1, 0, 1, 0, 0, 1],
    ]
)
B = CELLS > 0
ORDER = [1, 4, 0, 2, 5, 3]
# CELLS in ORDER: blocks [0:2] and [2:5]; noise (3, 1) -> (5, 0) and (4, 2) -> (1, 3).
PERMUTED = np.array(
    [
        [1, 1, 0, 0, 0, 0],
        [1, 1, 0, 2, 0, 0],
        [0, 0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1, 0],
        [2, 0, 0, 0, 0, 0],
    ]
)


def test_example_is_consistent_with_the_analysis() -> None:
    assert sorted(find_clusters(B)) == sorted(CLUSTERS)
    assert noise(B, CLUSTERS) == 2


def test_cluster_order_by_hand() -> None:
    assert cluster_order(CLUSTERS, 6) == ORDER
    assert cluster_order([(5, 0, 2)], 6) == [0, 2, 5, 1, 3, 4]  # ascending inside a cluster
    assert cluster_order([], 3) == [0, 1, 2]


@pytest.mark.parametrize("clusters", [[(0, 1), (1, 2)], [(0, 6)], [(-1,)]])
def test_cluster_order_rejects_bad_clusters(clusters: list[tuple[int, ...]]) -> None:
    with pytest.raises(ValueError):
        cluster_order(clusters, 6)


def test_cell_classes_by_hand() -> None:
    cells = cell_classes(B, CLUSTERS)
    np.testing.assert_array_equal(cells, CELLS)
    assert {tuple(x) for x in np.argwhere(cells == CELL_NOISE)} == {(3, 1), (4, 2)}
    assert (CELL_BELOW, CELL_CLUSTER, CELL_NOISE) == (0, 1, 2)
    with pytest.raises(ValueError):
        cell_classes(np.zeros((2, 3), dtype=bool), [])


def test_permute_makes_clusters_contiguous_blocks() -> None:
    permuted = permute(cell_classes(B, CLUSTERS), ORDER)
    np.testing.assert_array_equal(permuted, PERMUTED)
    assert (permuted[:2, :2] == CELL_CLUSTER).all() and (permuted[2:5, 2:5] == CELL_CLUSTER).all()
    np.testing.assert_array_equal(permute(np.arange(9).reshape(3, 3), [2, 0, 1])[0], [8, 6, 7])


@st.composite
def partitions(draw: st.DrawFn) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """A thresholded matrix holding random disjoint cluster blocks plus random noise bits."""
    k = draw(st.integers(1, 8))
    ids = draw(st.lists(st.integers(-1, 3), min_size=k, max_size=k))
    clusters = [tuple(np.flatnonzero(np.array(ids) == c).tolist()) for c in range(4)]
    clusters = [c for c in clusters if c]
    bits = draw(st.lists(st.booleans(), min_size=k * k, max_size=k * k))
    b = cluster_indicator(clusters, k) | np.array(bits).reshape(k, k)
    return b, draw(st.permutations(clusters))


@given(partitions())
def test_permuted_blocks_and_noise_agree_with_the_analysis(
    case: tuple[np.ndarray, list[tuple[int, ...]]],
) -> None:
    b, clusters = case
    k = b.shape[0]
    order = cluster_order(clusters, k)
    assert sorted(order) == list(range(k))
    permuted = permute(cell_classes(b, clusters), order)
    start = 0
    for cluster in clusters:
        end = start + len(cluster)
        assert (permuted[start:end, start:end] == CELL_CLUSTER).all()
        start = end
    assert (permuted == CELL_CLUSTER).sum() == sum(len(c) ** 2 for c in clusters)
    assert (permuted == CELL_NOISE).sum() == noise(b, clusters)
    np.testing.assert_array_equal(permuted > 0, permute(b, order))


def _analysis(sizes: list[int], noise_count: int, silent: bool = False) -> FilterAnalysis:
    """A FilterAnalysis with clusters of the given sizes (K = 10) and a given noise count."""
    edges = np.cumsum([0, *sizes])
    clusters = [tuple(range(a, b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    empty = np.zeros((10, 10), dtype=bool)
    return FilterAnalysis(
        silent, None if silent else np.zeros((10, 10)), empty, clusters, noise_count
    )


LAYER = [
    _analysis([], 0, silent=True),  # 0: silent, never chosen
    _analysis([3], 2),  # 1: 3 labels, noise 2
    _analysis([2, 1], 1),  # 2: 3 labels, noise 1 -> most (less noise wins the tie)
    _analysis([1], 4),  # 3: 1 label
    _analysis([], 4),  # 4: 0 labels, noise 4 -> least (lower index wins the tie with 5)
    _analysis([], 4),  # 5: 0 labels, noise 4
    _analysis([], 1),  # 6: 0 labels, noise 1
]


def test_choose_filters_tie_rules() -> None:
    chosen = choose_filters(LAYER, count_random=2, seed=0)
    assert chosen["most"] == [2] and chosen["least"] == [4]
    assert len(chosen["random"]) == 2 and set(chosen["random"]) <= {1, 3, 5, 6}
    assert chosen["random"] == sorted(chosen["random"])
    twins = [_analysis([2], 1), _analysis([2], 1)]
    assert choose_filters(twins, 0, 0) == {"most": [0], "least": [1], "random": []}


def test_choose_filters_is_reproducible_and_uses_the_seed() -> None:
    runs = {s: choose_filters(LAYER, count_random=2, seed=s)["random"] for s in range(20)}
    assert all(choose_filters(LAYER, 2, s)["random"] == r for s, r in runs.items())
    assert len({tuple(r) for r in runs.values()}) > 1
    assert choose_filters(LAYER, count_random=10, seed=3)["random"] == [1, 3, 5, 6]
    assert all(isinstance(f, int) for f in choose_filters(LAYER, 10, 3)["random"])


def test_choose_filters_edge_cases() -> None:
    silent = [_analysis([], 0, silent=True)] * 3
    assert choose_filters(silent, 2, 0) == {"most": [], "least": [], "random": []}
    assert choose_filters([], 2, 0) == {"most": [], "least": [], "random": []}
    lone = [*silent, _analysis([1], 0)]
    assert choose_filters(lone, 2, 0) == {"most": [3], "least": [], "random": []}
    with pytest.raises(ValueError):
        choose_filters(LAYER, -1, 0)
