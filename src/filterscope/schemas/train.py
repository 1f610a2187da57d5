"""The train group's choices and checks: its loop, the recipe's extras, early stopping and the
devices it spreads over."""

from __future__ import annotations

from typing import Any

from filterscope.schemas.loop import loop_problems
from filterscope.schemas.rules import check, integer, listed, number

# Lightning strategies whose workers rerun the stage script (see filterscope.distributed).
STRATEGIES = ("auto", "ddp")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
# What ``<loop>.early_stop.monitor`` may watch, and which way is better.
MONITORED = {"val_acc": "max", "val_loss": "min", "train_acc": "max", "train_loss": "min"}


def _recipe_problems(train: Any) -> list[str]:
    """Checks of the training recipe's extras (the train loop alone has them)."""
    p: list[str] = []
    warmup, smoothing, ema = train.warmup, train.label_smoothing, train.ema
    check(p, number(warmup) and 0 < warmup < 1, "train.warmup", warmup, "a number in (0, 1)")
    ok = number(smoothing) and 0 <= smoothing < 1
    check(p, ok, "train.label_smoothing", smoothing, "a number in [0, 1)")
    ok = ema is None or (number(ema) and 0 < ema < 1)
    check(p, ok, "train.ema", ema, "null or a number in (0, 1)")
    cutout = train.cutout
    check(p, integer(cutout) and cutout >= 0, "train.cutout", cutout, "an integer >= 0")
    return p


def _early_stop_problems(train: Any, val_fraction: Any) -> list[str]:
    p: list[str] = []
    stop = train.early_stop
    monitor = stop.monitor
    allowed = "null|" + "|".join(MONITORED)
    check(p, monitor is None or monitor in MONITORED, "train.early_stop.monitor", monitor, allowed)
    if str(monitor).startswith("val_") and val_fraction == 0:
        p.append(
            f"train.early_stop.monitor={monitor!r} needs validation data (data.val_fraction > 0)"
        )
    patience = stop.patience
    ok = integer(patience) and patience >= 1
    check(p, ok, "train.early_stop.patience", patience, "an integer >= 1")
    delta = stop.min_delta
    check(p, number(delta) and delta >= 0, "train.early_stop.min_delta", delta, "a number >= 0")
    return p


def _device_problems(train: Any) -> list[str]:
    """Checks of the devices a training stage spreads over."""
    p: list[str] = []
    devices, nodes, strategy = train.devices, train.num_nodes, train.strategy
    ok = devices == "auto" or (integer(devices) and devices >= 1)
    ok = ok or (listed(devices) and bool(devices) and all(integer(d) and d >= 0 for d in devices))
    check(p, ok, "train.devices", devices, "an integer >= 1, auto, or a list of device indices")
    check(p, integer(nodes) and nodes >= 1, "train.num_nodes", nodes, "an integer >= 1")
    check(p, strategy in STRATEGIES, "train.strategy", strategy, "|".join(STRATEGIES))
    accelerator = train.accelerator
    allowed = "|".join(ACCELERATORS)
    check(p, accelerator in ACCELERATORS, "train.accelerator", accelerator, allowed)
    return p


def train_problems(train: Any, val_fraction: Any) -> list[str]:
    """Every invalid value of the train group (``val_fraction``: the data's, which early
    stopping on a validation metric needs)."""
    p = loop_problems("train", train)
    p += _device_problems(train)
    p += _recipe_problems(train)
    return p + _early_stop_problems(train, val_fraction)


def present_device_problems(train: Any) -> list[str]:
    """An accelerator asked for that this machine does not have (imports torch)."""
    import torch

    p: list[str] = []
    accelerator = train.accelerator
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        p.append(
            f"train.accelerator={accelerator!r} (no CUDA GPU on this machine; use auto or cpu)"
        )
    if accelerator == "mps" and not torch.backends.mps.is_available():
        p.append("train.accelerator='mps' (no Apple GPU here; use auto or cpu)")
    return p
