"""Per-filter analysis and per-layer statistics on a hand-computed four-filter layer."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from filterscope.analysis import analyse_filter, analyse_layer

# K = 3 labels. Expected results worked out by hand in the comments.
MATRICES = np.array(
    [
        # f0: max 1 -> B = [[1,1,0],[1,1,0],[0,1,0]] (0.25 on the diagonal fails);
        #     clusters [(0, 1)], noise 5 - 4 = 1
        [[1.0, 0.5, 0.1], [0.4, 0.9, 0.0], [0.2, 0.35, 0.25]],
        # f1: max exactly 0 -> silent
        [[0.0, -1.0, -2.0], [-1.0, 0.0, -3.0], [-2.0, -2.0, 0.0]],
        # f2: signed max 2 (not |-4|) -> Mn = [[0.5,-2,0],[0,0.25,0],[0,0,1]], B = diag(1,0,1);
        #     0 and 2 are not linked -> clusters [(0,), (2,)], noise 0
        [[1.0, -4.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 2.0]],
        # f3: max 1 -> B = [[0,1,0],[0,0,0],[1,0,0]] (0.3 on the diagonal is not > 0.3);
        #     no clusters, noise 2
        [[0.1, 1.0, 0.0], [0.0, 0.2, 0.0], [0.6, 0.0, 0.3]],
    ]
)
ACCURACY = np.array([0.5, 0.1, 0.3, 0.1])


def test_analyse_filter_by_hand() -> None:
    f0 = analyse_filter(MATRICES[0])
    assert not f0.silent and f0.clusters == [(0, 1)] and f0.noise == 1
    np.testing.assert_array_equal(f0.thresholded, [[1, 1, 0], [1, 1, 0], [0, 1, 0]])
    np.testing.assert_allclose(f0.normalised, MATRICES[0])
    np.testing.assert_array_equal(f0.indicator, [[1, 1, 0], [1, 1, 0], [0, 0, 0]])

    f1 = analyse_filter(MATRICES[1])
    assert f1.silent and f1.normalised is None and f1.clusters == [] and f1.noise == 0
    assert f1.thresholded.shape == (3, 3) and not f1.thresholded.any()

    f2 = analyse_filter(MATRICES[2])
    np.testing.assert_allclose(f2.normalised[0], [0.5, -2.0, 0.0])
    assert f2.clusters == [(0,), (2,)] and f2.noise == 0

    f3 = analyse_filter(MATRICES[3])
    assert not f3.silent and f3.clusters == [] and f3.noise == 2


def test_theta_is_passed_through() -> None:
    assert analyse_filter(MATRICES[0], theta=0.2).clusters == [
        (0, 1),
        (2,),
    ]  # 2 joins no one: B[1, 2] = 0
    assert analyse_filter(MATRICES[0], theta=0.95).clusters == [(0,)]


def test_layer_stats_by_hand() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats, analyses = analyse_layer(2, MATRICES, ACCURACY, probe_accuracy=0.9)
    assert [a.clusters for a in analyses] == [[(0, 1)], [], [(0,), (2,)], []]
    assert stats.layer == 2
    assert stats.filters == 4
    assert stats.probe_accuracy == 0.9
    assert stats.single_filter_accuracy_mean == pytest.approx(0.25)
    assert stats.single_filter_accuracy_std == pytest.approx(math.sqrt(0.11 / 4))  # population
    assert stats.clusters_per_filter == pytest.approx(3 / 4)  # 1 + 0 + 2 + 0 over 4
    assert stats.mean_cluster_size == pytest.approx(4 / 3)  # sizes 2, 1, 1
    np.testing.assert_array_equal(stats.cluster_size_histogram, [0, 2, 1, 0])
    assert stats.labels_in_clusters == pytest.approx(1.0)  # 2 + 0 + 2 + 0 over 4
    assert stats.noise_per_filter == pytest.approx(1.0)  # (1 + 0 + 2) over the 3 non-silent
    assert stats.silent_fraction == pytest.approx(0.25)
    assert stats.no_cluster_fraction == pytest.approx(0.5)  # f1 (silent) and f3
    np.testing.assert_array_equal(stats.label_coverage, [2, 1, 1])
    assert stats.label_coverage_cv == pytest.approx(math.sqrt(2) / 4)  # sqrt(2/9) / (4/3)

    # A = B0 + B2 + B3 = [[2,2,0],[1,1,0],[1,1,1]]
    assert stats.snr_threshold.signal == pytest.approx(4 / 3)
    assert stats.snr_threshold.noise == pytest.approx(5 / 6)
    assert stats.snr_threshold.ratio == pytest.approx(1.6)
    np.testing.assert_allclose(stats.snr_threshold.per_label, [2.0, 2.0, 1.0])
    # A = C0 + C2 = [[2,1,0],[1,1,0],[0,0,1]]
    assert stats.snr_cluster.signal == pytest.approx(4 / 3)
    assert stats.snr_cluster.noise == pytest.approx(1 / 3)
    assert stats.snr_cluster.ratio == pytest.approx(4.0)
    np.testing.assert_array_equal(stats.snr_cluster.per_label, [4.0, 2.0, math.inf])


def test_to_dict_is_json_ready() -> None:
    stats, _ = analyse_layer(2, MATRICES, ACCURACY, probe_accuracy=0.9)
    d = stats.to_dict()
    assert d["cluster_size_histogram"] == [0, 2, 1, 0]
    assert d["label_coverage"] == [2, 1, 1]
    assert d["snr_cluster"]["per_label"] == [4.0, 2.0, math.inf]
    assert set(d["snr_threshold"]) == {"signal", "noise", "ratio", "per_label"}
    assert json.loads(json.dumps(d))["filters"] == 4
    for key, value in d.items():
        assert isinstance(value, (int, float, list, dict)), key
        assert not isinstance(value, np.generic), key


def test_all_silent_layer() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats, analyses = analyse_layer(1, -np.ones((2, 3, 3)), np.zeros(2), probe_accuracy=0.1)
    assert all(a.silent for a in analyses)
    assert stats.silent_fraction == 1.0 and stats.no_cluster_fraction == 1.0
    assert math.isnan(stats.noise_per_filter)
    assert math.isnan(stats.mean_cluster_size)
    assert math.isnan(stats.label_coverage_cv)
    assert stats.clusters_per_filter == 0.0
    assert math.isnan(stats.snr_threshold.ratio) and math.isnan(stats.snr_cluster.ratio)


def test_analyse_layer_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="F, K, K"):
        analyse_layer(1, np.ones((0, 3, 3)), np.zeros(0), probe_accuracy=0.0)
    with pytest.raises(ValueError, match="single_filter_accuracy"):
        analyse_layer(1, np.ones((2, 3, 3)), np.zeros(3), probe_accuracy=0.0)
