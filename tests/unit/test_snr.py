"""SNR of an accumulated matrix: ratio of means, per-label ratios, inf/nan conventions."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from filterscope.analysis import SNR, analyse_layer, cluster_indicator, snr

K = 10
FILTERS = 500


def _paper_clusters() -> list[tuple[int, ...]]:
    """500 filters, each one cluster of 3 consecutive labels (mod 10) starting at 3f mod 10:
    every label lies in exactly 150 clusters."""
    return [tuple(sorted((3 * f + d) % K for d in range(3))) for f in range(FILTERS)]


def _check_paper_example(result: SNR) -> None:
    assert result.signal == pytest.approx(150.0)
    assert result.noise == pytest.approx(150 * 2 / 9)
    assert result.ratio == pytest.approx(4.5)
    np.testing.assert_allclose(result.per_label, np.full(K, 4.5))


def test_paper_example_cluster_only() -> None:
    accumulated = np.sum([cluster_indicator([s], K) for s in _paper_clusters()], axis=0)
    np.testing.assert_array_equal(np.diag(accumulated), np.full(K, 150))
    _check_paper_example(snr(accumulated))


def test_paper_example_through_thresholded_field_matrices() -> None:
    # Field matrices whose thresholded B is exactly the cluster block: 1 on it, 0.1 elsewhere.
    blocks = np.stack([cluster_indicator([s], K) for s in _paper_clusters()])
    matrices = np.where(blocks, 1.0, 0.1)
    stats, analyses = analyse_layer(1, matrices, np.zeros(FILTERS), probe_accuracy=0.5)
    clusters = _paper_clusters()
    assert all(a.clusters == [s] and a.noise == 0 for a, s in zip(analyses, clusters, strict=True))
    _check_paper_example(stats.snr_threshold)
    _check_paper_example(stats.snr_cluster)


def test_zero_noise_gives_inf_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = snr(np.diag([3, 1, 2]))
    assert result.signal == 2.0 and result.noise == 0.0
    assert result.ratio == math.inf
    np.testing.assert_array_equal(result.per_label, [math.inf] * 3)


def test_zero_over_zero_is_nan_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = snr(np.zeros((3, 3)))
    assert math.isnan(result.ratio)
    assert np.isnan(result.per_label).all()


def test_ratio_of_means_and_per_label_ratios_by_hand() -> None:
    a = np.array([[4, 2, 0], [0, 3, 0], [1, 1, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = snr(a)
    assert result.signal == pytest.approx(7 / 3)
    assert result.noise == pytest.approx(4 / 6)
    assert result.ratio == pytest.approx(3.5)  # finite although label 1 has no off-diagonal count
    # row 0: 4 / mean(2, 0); row 1: 3 / 0 -> inf; row 2: 0 / mean(1, 1)
    np.testing.assert_array_equal(result.per_label, [4.0, math.inf, 0.0])
    assert result.to_dict() == {
        "signal": result.signal,
        "noise": result.noise,
        "ratio": result.ratio,
        "per_label": [4.0, math.inf, 0.0],
    }


@pytest.mark.parametrize(
    "a", [np.ones((1, 1)), np.ones((2, 3)), -np.ones((2, 2)), np.full((2, 2), np.inf)]
)
def test_invalid_accumulated_matrices(a: np.ndarray) -> None:
    with pytest.raises(ValueError):
        snr(a)


@given(
    st.integers(2, 6).flatmap(lambda k: arrays(np.int64, (k, k), elements=st.integers(0, 50))),
    st.floats(1e-3, 1e3),
)
def test_ratio_is_scale_invariant(a: np.ndarray, scale: float) -> None:
    base, scaled = snr(a), snr(a * scale)
    pairs = [(base.ratio, scaled.ratio), *zip(base.per_label, scaled.per_label, strict=True)]
    for x, y in pairs:
        if math.isfinite(x):
            assert y == pytest.approx(x, rel=1e-9)
        else:
            assert x == y or (math.isnan(x) and math.isnan(y))
