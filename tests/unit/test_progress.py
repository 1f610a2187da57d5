"""The plain lines a stage prints: one per epoch, for one head or many."""

from __future__ import annotations

from filterscope.progress import bar_wanted, epoch_line


def test_one_head_line_has_losses_accuracies_lr_and_seconds() -> None:
    row = {
        "epoch": 3,
        "train_loss": 1.23456,
        "train_acc": 0.5,
        "val_loss": 1.5,
        "val_acc": 0.4567891,
        "lr": 0.0498,
        "seconds": 9.06,
    }
    assert epoch_line(row, 30, [""]) == (
        "epoch 3/30 | train loss 1.2346 acc 0.5000 | val loss 1.5000 acc 0.4568 | lr 0.0498 | 9.1 s"
    )


def test_several_heads_line_lists_each_accuracy_and_skips_missing_validation() -> None:
    row = {"epoch": 1, "lr": 0.01, "seconds": 2.0}
    for suffix, acc in (("_layer_01", 0.25), ("_layer_02", 0.5)):
        row[f"train_loss{suffix}"] = 2.0
        row[f"train_acc{suffix}"] = acc
    line = epoch_line(row, 4, ["_layer_01", "_layer_02"])
    assert line == "epoch 1/4 | train acc per head 0.250 0.500 | lr 0.01 | 2.0 s"


def test_no_bar_when_not_asked_or_not_a_terminal() -> None:
    # pytest captures stderr: not a terminal, so never a bar
    assert bar_wanted(True) is False and bar_wanted(False) is False
