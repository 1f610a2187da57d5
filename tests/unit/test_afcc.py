"""AFCC keep-mask and dilution of a probe weight."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from filterscope.analysis import (
    FilterAnalysis,
    afcc_mask,
    analyse_layer,
    cluster_indicator,
    dilute,
    filter_fields,
)


def _analysis(clusters: list[tuple[int, ...]], k: int = 3) -> FilterAnalysis:
    """A filter whose thresholded matrix is exactly its cluster blocks (no noise)."""
    b = cluster_indicator(clusters, k)
    return FilterAnalysis(not clusters, b.astype(float) if clusters else None, b, clusters, 0)


def test_mask_by_hand() -> None:
    analyses = [_analysis([(0, 2)]), _analysis([]), _analysis([(0,), (1,)])]
    keep = afcc_mask(analyses, num_classes=3)
    expected = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 0]], dtype=bool)  # rows = outputs
    np.testing.assert_array_equal(keep, expected)


def test_dilute_by_hand() -> None:
    weight = torch.arange(1.0, 1 + 2 * 3 * 2 * 1).reshape(2, 3, 2, 1)  # (K=2, C=3, H=2, W=1)
    keep = np.array([[True, False, False], [True, False, True]])
    diluted, kept = dilute(weight, keep)
    assert kept == pytest.approx(0.5)  # 3 of the 6 (output, filter) pairs, 2 weights each
    expected = torch.tensor(
        [[[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]], [[7.0, 8.0], [0.0, 0.0], [11.0, 12.0]]]
    )
    torch.testing.assert_close(diluted, expected.reshape(2, 3, 2, 1))
    assert diluted.dtype == weight.dtype
    torch.testing.assert_close(weight[0, 1], torch.tensor([[3.0], [4.0]]))  # input untouched


def test_dilute_accepts_tensor_mask_and_checks_shape() -> None:
    weight = torch.ones(2, 3, 1, 1)
    diluted, kept = dilute(weight, torch.ones(2, 3, dtype=torch.bool))
    assert kept == 1.0 and torch.equal(diluted, weight)
    with pytest.raises(ValueError, match="keep"):
        dilute(weight, np.ones((3, 2), dtype=bool))


def test_diluted_logits_are_the_sum_of_kept_fields() -> None:
    gen = torch.Generator().manual_seed(0)
    k, c = 4, 6
    features = torch.relu(torch.randn(32, c, 3, 3, generator=gen, dtype=torch.float64))
    weight = torch.randn(k, c, 3, 3, generator=gen, dtype=torch.float64)
    labels = torch.arange(32) % k
    z = filter_fields(features, weight)
    matrices = np.stack([z[labels == a].mean(0).numpy() for a in range(k)], axis=1)  # (C, K, K)
    _, analyses = analyse_layer(1, matrices, np.zeros(c), probe_accuracy=0.0)
    keep = afcc_mask(analyses, k)
    assert keep.any() and not keep.all()
    diluted, kept = dilute(weight, keep)
    assert kept == pytest.approx(keep.mean())
    logits = features.flatten(1) @ diluted.flatten(1).T
    kept_fields = (z * torch.as_tensor(keep).T[None]).sum(dim=1)
    torch.testing.assert_close(logits, kept_fields)
