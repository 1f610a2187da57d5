"""Epoch meters: exact means, and processes' totals that add up to the single-process epoch."""

from __future__ import annotations

import math

import pytest
import torch

from filterscope.training.meters import EpochMeter

# Two batches: logits argmax [0, 1] vs labels [0, 0] (1 of 2 right), then [1] vs [1] (right).
BATCHES = [
    (torch.tensor(0.5), torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0])),
    (torch.tensor(2.0), torch.tensor([[0.0, 1.0]]), torch.tensor([1])),
]


def test_means_by_hand() -> None:
    meter = EpochMeter()
    for batch in BATCHES:
        meter.update(*batch)
    assert meter.totals().tolist() == [0.5 * 2 + 2.0 * 1, 2, 3]
    means = EpochMeter.means(meter.totals())
    assert means == {"loss": pytest.approx(3.0 / 3), "acc": pytest.approx(2 / 3)}


def test_totals_of_two_processes_add_up_to_one() -> None:
    # DDP: each rank meters its share; summing totals (not averaging means) is exact even when
    # the shares differ in size (2 images against 1 here).
    ranks = [EpochMeter(), EpochMeter()]
    for meter, batch in zip(ranks, BATCHES, strict=True):
        meter.update(*batch)
    whole = EpochMeter()
    for batch in BATCHES:
        whole.update(*batch)
    summed = ranks[0].totals() + ranks[1].totals()
    assert EpochMeter.means(summed) == EpochMeter.means(whole.totals())
    averaged = sum(EpochMeter.means(m.totals())["acc"] for m in ranks) / 2
    assert averaged != EpochMeter.means(summed)["acc"]  # 0.75, not 2/3


def test_an_empty_epoch_is_nan() -> None:
    means = EpochMeter.means(EpochMeter().totals())
    assert math.isnan(means["loss"]) and math.isnan(means["acc"])
