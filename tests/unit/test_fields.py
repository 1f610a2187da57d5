"""Per-filter fields and their accumulation into field matrices."""

from __future__ import annotations

import pytest
import torch

from filterscope.analysis import FieldAccumulator, filter_fields


@pytest.mark.parametrize("channels_last", [False, True])
def test_fields_sum_to_bias_free_probe_logits(channels_last: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(5, 4, 3, 2, generator=gen, dtype=torch.float64)
    weight = torch.randn(7, 4, 3, 2, generator=gen, dtype=torch.float64)
    if channels_last:
        features = features.to(memory_format=torch.channels_last)
        weight = weight.to(memory_format=torch.channels_last)
    z = filter_fields(features, weight)
    assert z.shape == (5, 4, 7)
    logits = features.flatten(1) @ weight.flatten(1).T
    torch.testing.assert_close(z.sum(dim=1), logits)


def test_field_is_the_probe_with_other_filters_silenced() -> None:
    gen = torch.Generator().manual_seed(1)
    features = torch.randn(3, 4, 2, 2, generator=gen, dtype=torch.float64)
    weight = torch.randn(5, 4, 2, 2, generator=gen, dtype=torch.float64)
    z = filter_fields(features, weight)
    for f in range(4):
        only_f = torch.zeros_like(features)
        only_f[:, f] = features[:, f]
        torch.testing.assert_close(z[:, f], only_f.flatten(1) @ weight.flatten(1).T)


def test_fields_of_bf16_inputs_are_float32() -> None:
    gen = torch.Generator().manual_seed(2)
    features = torch.randn(2, 3, 4, 4, generator=gen).bfloat16()
    weight = torch.randn(6, 3, 4, 4, generator=gen).bfloat16()
    z = filter_fields(features.to(memory_format=torch.channels_last), weight)
    assert z.dtype == torch.float32
    expected = filter_fields(features.double(), weight.double()).float()
    torch.testing.assert_close(z, expected, rtol=1e-5, atol=1e-5)


def test_fields_reject_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="matching"):
        filter_fields(torch.zeros(1, 2, 3, 3), torch.zeros(4, 2, 3, 2))


# Two filters, two labels, three inputs (labels 0, 1, 0); z[b, f, i] written out by hand.
Z = torch.tensor(
    [
        [[1.0, 0.0], [2.0, 4.0]],  # label 0: filter 0 -> 0 (right), filter 1 -> 1 (wrong)
        [[3.0, 5.0], [6.0, 1.0]],  # label 1: filter 0 -> 1 (right), filter 1 -> 0 (wrong)
        [[5.0, 2.0], [0.0, 2.0]],  # label 0: filter 0 -> 0 (right), filter 1 -> 1 (wrong)
    ]
)
LABELS = torch.tensor([0, 1, 0])


def test_field_matrices_are_per_label_means() -> None:
    acc = FieldAccumulator(num_filters=2, num_classes=2)
    acc.update(Z, LABELS)
    m = acc.field_matrices()
    assert m.shape == (2, 2, 2) and m.dtype == torch.float64
    # filter 0: label 0 rows = mean([1, 0], [5, 2]) = [3, 1]; label 1 row = [3, 5]
    torch.testing.assert_close(m[0], torch.tensor([[3.0, 1.0], [3.0, 5.0]], dtype=torch.float64))
    # filter 1: label 0 rows = mean([2, 4], [0, 2]) = [1, 3]; label 1 row = [6, 1]
    torch.testing.assert_close(m[1], torch.tensor([[1.0, 3.0], [6.0, 1.0]], dtype=torch.float64))
    torch.testing.assert_close(acc.single_filter_accuracy(), torch.tensor([1.0, 0.0]).double())
    assert acc.count == 3


def test_accumulation_is_independent_of_batching() -> None:
    whole = FieldAccumulator(2, 2)
    whole.update(Z, LABELS)
    split = FieldAccumulator(2, 2)
    split.update(Z[:1], LABELS[:1])
    split.update(Z[1:], LABELS[1:])
    torch.testing.assert_close(split.field_matrices(), whole.field_matrices())
    torch.testing.assert_close(split.single_filter_accuracy(), whole.single_filter_accuracy())
    assert split.count == whole.count == 3


def test_unseen_label_is_an_error() -> None:
    acc = FieldAccumulator(num_filters=2, num_classes=3)
    acc.update(torch.zeros(3, 2, 3), LABELS)
    with pytest.raises(ValueError, match=r"label\(s\) \[2\]"):
        acc.field_matrices()


def test_empty_accumulator_and_bad_inputs_are_errors() -> None:
    acc = FieldAccumulator(2, 2)
    with pytest.raises(ValueError, match="no inputs"):
        acc.single_filter_accuracy()
    with pytest.raises(ValueError, match="labels must lie"):
        acc.update(Z, torch.tensor([0, 2, 0]))
    with pytest.raises(ValueError, match="expected z"):
        acc.update(Z[:, :1], LABELS)


def test_accumulator_with_real_fields_matches_direct_means() -> None:
    gen = torch.Generator().manual_seed(3)
    features = torch.randn(40, 3, 2, 2, generator=gen)
    weight = torch.randn(4, 3, 2, 2, generator=gen)
    labels = torch.arange(40) % 4
    z = filter_fields(features, weight)
    acc = FieldAccumulator(3, 4)
    for chunk in range(0, 40, 16):
        acc.update(z[chunk : chunk + 16], labels[chunk : chunk + 16])
    m = acc.field_matrices()
    for a in range(4):
        torch.testing.assert_close(m[:, a].float(), z[labels == a].mean(dim=0))
    expected_acc = (z.argmax(dim=2) == labels[:, None]).double().mean(dim=0)
    torch.testing.assert_close(acc.single_filter_accuracy(), expected_acc)
