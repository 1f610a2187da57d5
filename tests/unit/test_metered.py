"""Epoch metrics of a MeteredModule: exact per-image means over uneven batches, and the shares of
several processes that merge into the single-process epoch."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from filterscope.training.metered import MeteredModule

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
