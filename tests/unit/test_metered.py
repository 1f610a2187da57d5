"""Epoch metrics of a MeteredModule: exact per-image means over uneven batches, and the shares of
several processes that merge into the single-process epoch; the training recipe's extras
(label smoothing, the one-cycle schedule, weight averaging)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import WeightAveraging
from omegaconf import OmegaConf

from filterscope.training.metered import MeteredModule
from filterscope.training.optim import build_schedule
from filterscope.training.trainer import WarmupEma, weight_averaging

# Two batches: logits argmax [0, 1] vs labels [0, 0] (1 of 2 right), then [1] vs [1] (right).
BATCHES = [
    (torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0])),
    (torch.tensor([[0.0, 1.0]]), torch.tensor([1])),
]


def _losses() -> list[float]:
    return [F.cross_entropy(x, y, reduction="none").tolist() for x, y in BATCHES]


def test_epoch_means_by_hand() -> None:
    module = MeteredModule(num_classes=2)
    for logits, labels in BATCHES:
        module.score("train", [logits], labels)
    losses = sum(_losses(), [])
    metrics = module.epoch_metrics("train")
    assert metrics == {
        "train_loss": pytest.approx(sum(losses) / 3),  # per image, not the mean of batch means
        "train_acc": pytest.approx(2 / 3),
    }
    batch_means = sum(sum(b) / len(b) for b in _losses()) / 2
    assert metrics["train_loss"] != pytest.approx(batch_means)


def test_the_shares_of_two_processes_merge_into_one_epoch() -> None:
    # DDP: each rank meters its share (2 images against 1 here); merged states are exact,
    # where averaging the ranks' accuracies would give 0.75, not 2/3.
    ranks = [MeteredModule(num_classes=2), MeteredModule(num_classes=2)]
    for module, (logits, labels) in zip(ranks, BATCHES, strict=True):
        module.score("val", [logits], labels)
    whole = MeteredModule(num_classes=2)
    for logits, labels in BATCHES:
        whole.score("val", [logits], labels)
    merged = copy.deepcopy(ranks[0])
    for name in ("val_loss", "val_acc"):
        merged.metrics[name].merge_state(ranks[1].metrics[name])
    assert merged.epoch_metrics("val") == pytest.approx(whole.epoch_metrics("val"))
    averaged = sum(m.epoch_metrics("val")["val_acc"] for m in ranks) / 2
    assert averaged == pytest.approx(0.75)


def test_several_heads_are_scored_apart() -> None:
    module = MeteredModule(num_classes=2, suffixes=("_a", "_b"))
    logits, labels = BATCHES[0]
    total = module.score("test", [logits, -logits], labels)
    expected = F.cross_entropy(logits, labels) + F.cross_entropy(-logits, labels)
    assert total.item() == pytest.approx(expected.item())
    metrics = module.epoch_metrics("test")
    assert metrics["test_acc_a"] == pytest.approx(0.5) and metrics["test_acc_b"] == pytest.approx(
        0.5
    )
    assert set(metrics) == {"test_loss_a", "test_acc_a", "test_loss_b", "test_acc_b"}


def test_label_smoothing_trains_on_the_smoothed_loss_and_meters_the_plain_one() -> None:
    module = MeteredModule(num_classes=2, label_smoothing=0.2)
    logits, labels = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    plain = math.log(1 + math.exp(-2.0))  # -log p(0)
    other = math.log(1 + math.exp(2.0))  # -log p(1)
    # smoothing 0.2 over 2 labels: targets 0.9 and 0.1
    assert float(module.score("train", [logits], labels)) == pytest.approx(
        0.9 * plain + 0.1 * other
    )
    assert module.epoch_metrics("train")["train_loss"] == pytest.approx(plain)
    assert float(module.score("val", [logits], labels)) == pytest.approx(plain)  # not smoothed


def test_one_cycle_rises_to_the_learning_rate_then_anneals() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    cfg = OmegaConf.create({"schedule": "onecycle", "lr": 0.1, "warmup": 0.25, "epochs": 1})
    optimizer = torch.optim.SGD([param], lr=0.1)
    schedule = build_schedule(optimizer, cfg, total_steps=20)
    assert schedule["interval"] == "step"
    lrs = []
    for _ in range(20):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule["scheduler"].step()
    peak = int(np.argmax(lrs))
    assert lrs[peak] == pytest.approx(0.1) and peak == 4  # 25 % of 20 steps, counted from 0
    assert lrs[0] == pytest.approx(0.1 / 25) and lrs[-1] < lrs[0]  # torch's div factors
    assert all(a < b for a, b in zip(lrs[:peak], lrs[1 : peak + 1], strict=True))
    assert (
        build_schedule(optimizer, OmegaConf.create({"schedule": "cosine", "epochs": 3}))["interval"]
        == "epoch"
    )
    assert weight_averaging(OmegaConf.create({"ema": None})) == []


def test_the_moving_average_warms_up_then_decays_at_its_rate() -> None:
    (callback,) = weight_averaging(OmegaConf.create({"ema": 0.99}))
    assert isinstance(callback, WeightAveraging)
    average = WarmupEma(0.99)
    one, zero = torch.ones(2), torch.zeros(2)
    # update 0: decay min(0.99, 1/10) = 0.1, so 90 % of the new weights
    assert torch.allclose(average(zero, one, torch.tensor(0)), torch.full((2,), 0.9))
    # update 1000: min(0.99, 1001/1010) = 0.99
    assert torch.allclose(average(zero, one, torch.tensor(1000)), torch.full((2,), 0.01))
