"""Pruning masks on hand-made clusters: AFCC's conv rule, its controls, the kept fractions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filterscope.pruning.rules import (
    Site,
    afcc_masks,
    balanced_clusters,
    conv_mask,
    head_mask,
    kept_fraction,
    magnitude_mask,
    magnitude_masks,
    match_count,
    random_clusters,
    random_masks,
)

# Layer l: three filters; layer l+1: four. Labels 0..4.
INPUTS = [[(0, 1)], [(2,), (4,)], []]  # filter 2 of layer l has no cluster
OUTPUTS = [[(1,)], [(3,)], [(0,), (2, 4)], []]


def test_conv_mask_keeps_pairs_that_share_a_label() -> None:
    # out 0 {1}: shares 1 with in 0; out 1 {3}: with none; out 2 {0,2,4}: with in 0 and in 1.
    expected = np.array(
        [[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 0]],
        dtype=bool,
    )
    np.testing.assert_array_equal(conv_mask(INPUTS, OUTPUTS), expected)
    assert kept_fraction([conv_mask(INPUTS, OUTPUTS)], [9]) == 3 / 12


def test_filters_without_clusters_can_keep_their_connections() -> None:
    keep = conv_mask(INPUTS, OUTPUTS, unclustered="keep")
    expected = np.array(
        [[1, 0, 1], [0, 0, 1], [1, 1, 1], [1, 1, 1]],
        dtype=bool,
    )
    np.testing.assert_array_equal(keep, expected)
    with pytest.raises(ValueError, match="unclustered"):
        conv_mask(INPUTS, OUTPUTS, unclustered="some")  # type: ignore[arg-type]


def test_kept_fraction_weighs_connections_by_their_kernel_size() -> None:
    conv = np.array([[1, 0], [0, 0]], dtype=bool)  # 1 of 4 kernels of 3x3 = 9 of 36 weights
    head = np.array([[1, 1, 1, 0]], dtype=bool)  # 3 of 4 blocks of 2x2 = 12 of 16 weights
    assert kept_fraction([conv, head], [9, 4]) == pytest.approx(21 / 52)


def test_magnitude_keeps_the_largest_kernels_by_l1() -> None:
    weight = np.zeros((2, 3, 2, 2))
    weight[0, 1] = [[1, -1], [0, 0]]  # L1 2
    weight[1, 2] = [[-3, 0], [0, 0]]  # L1 3
    weight[1, 0] = [[0.5, 0], [0, 0.25]]  # L1 0.75
    np.testing.assert_array_equal(
        magnitude_mask(weight, 2), np.array([[0, 1, 0], [0, 0, 1]], dtype=bool)
    )
    assert magnitude_mask(weight, 3).sum() == 3 and magnitude_mask(weight, 3)[1, 0]
    with pytest.raises(ValueError, match="cannot keep 7"):
        magnitude_mask(weight, 7)


def test_balanced_clusters_keep_sizes_and_spread_labels() -> None:
    sizes = [[2], [1, 1], [3], [1]]  # 8 labels over 5: each used once or twice
    drawn = balanced_clusters(sizes, 5, np.random.default_rng(0))
    assert [[len(c) for c in f] for f in drawn] == sizes
    for clusters in drawn:  # disjoint within a filter
        labels = [label for c in clusters for label in c]
        assert len(labels) == len(set(labels))
    counts = np.bincount([label for f in drawn for c in f for label in c], minlength=5)
    assert counts.sum() == 8 and counts.max() - counts.min() <= 1
    with pytest.raises(ValueError, match="do not fit"):
        balanced_clusters([[4, 2]], 5, np.random.default_rng(0))


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.lists(st.integers(1, 3), min_size=0, max_size=3), min_size=1, max_size=30),
    seed=st.integers(0, 2**16),
)
def test_balanced_coverage_differs_by_at_most_one(sizes: list[list[int]], seed: int) -> None:
    drawn = balanced_clusters(sizes, 10, np.random.default_rng(seed))
    counts = np.bincount([label for f in drawn for c in f for label in c], minlength=10)
    assert counts.max() - counts.min() <= 1
    assert counts.sum() == sum(map(sum, sizes))


@settings(max_examples=60, deadline=None)
@given(
    bits=st.lists(st.booleans(), min_size=12, max_size=12),
    kept=st.integers(0, 12),
    seed=st.integers(0, 2**16),
)
def test_match_count_reaches_the_count_and_moves_only_what_it_must(
    bits: list[bool], kept: int, seed: int
) -> None:
    mask = np.array(bits).reshape(3, 4)
    matched = match_count(mask, kept, np.random.default_rng(seed))
    assert matched.shape == (3, 4) and matched.sum() == kept
    assert (matched != mask).sum() == abs(int(mask.sum()) - kept)  # no more flips than needed
    assert mask.sum() == sum(bits)  # the input is not modified


def test_head_keeps_an_output_only_from_filters_whose_clusters_hold_its_label() -> None:
    # Filters of INPUTS over labels 0..4: f0 {0,1}, f1 {2,4}, f2 no cluster.
    expected = np.array(
        [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 1, 0]],
        dtype=bool,
    )
    np.testing.assert_array_equal(head_mask(INPUTS, 5), expected)
    kept = head_mask(INPUTS, 5, unclustered="keep")
    np.testing.assert_array_equal(kept[:, 2], np.ones(5, dtype=bool))  # f2 keeps every output
    np.testing.assert_array_equal(kept[:, :2], expected[:, :2])


def test_site_masks_follow_the_rule_of_their_kind() -> None:
    clusters = {7: INPUTS, 8: OUTPUTS}
    pair, head = Site(7, 8), Site(8)
    assert (pair.name, head.name, pair.layers, head.layers) == (
        "pair_07_08",
        "head_08",
        (7, 8),
        (8,),
    )
    masks = afcc_masks([pair, head], clusters, 5)
    np.testing.assert_array_equal(masks["pair_07_08"], conv_mask(INPUTS, OUTPUTS))
    np.testing.assert_array_equal(masks["head_08"], head_mask(OUTPUTS, 5))
    assert masks["head_08"].shape == (5, 4)  # (labels, filters of layer 8)


def test_random_control_keeps_each_sites_count_and_spreads_labels() -> None:
    rng = np.random.default_rng(3)
    # 40 filters per layer with 1-3 labels of 10 each: a realistic deep layer.
    clusters = {
        layer: [[tuple(range(n))] if n else [] for n in rng.integers(0, 4, 40)] for layer in (4, 5)
    }
    sites = [Site(4, 5), Site(5)]
    afcc = afcc_masks(sites, clusters, 10)
    kept = {name: int(mask.sum()) for name, mask in afcc.items()}
    drawn = random_masks(sites, clusters, 10, kept, np.random.default_rng(0))
    assert {name: int(mask.sum()) for name, mask in drawn.items()} == kept
    assert all(drawn[name].shape == afcc[name].shape for name in kept)
    assert not np.array_equal(drawn["pair_04_05"], afcc["pair_04_05"])
    again = random_masks(sites, clusters, 10, kept, np.random.default_rng(0))
    assert all(np.array_equal(again[name], drawn[name]) for name in kept)  # seeded
    shuffled = random_clusters([4, 5], clusters, 10, np.random.default_rng(0))
    for layer in (4, 5):
        sizes = [[len(c) for c in f] for f in shuffled[layer]]
        assert sizes == [[len(c) for c in f] for f in clusters[layer]]
        counts = np.bincount([lab for f in shuffled[layer] for c in f for lab in c], minlength=10)
        assert counts.max() - counts.min() <= 1  # labels covered evenly


def test_magnitude_control_keeps_the_same_count_by_l1() -> None:
    weight = np.arange(24, dtype=float).reshape(2, 3, 4) * np.array([1, -1, 1, -1])
    masks = magnitude_masks({"head_03": weight}, {"head_03": 2})
    # Kernel L1 norms grow with the flat index: the last two connections win.
    np.testing.assert_array_equal(masks["head_03"], [[0, 0, 0], [0, 1, 1]])
