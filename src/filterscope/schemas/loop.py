"""A training loop's choices and checks (``train``, ``probe`` and ``prune`` each hold one loop)."""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Mapping
from typing import Any, Literal, get_args

from filterscope.schemas.rules import check, integer, number, plain

Optimizer = Literal["sgd", "adam", "adamw"]
Schedule = Literal["cosine", "exponential", "constant", "onecycle"]
OPTIMIZERS: tuple[Optimizer, ...] = get_args(Optimizer)
SCHEDULES: tuple[Schedule, ...] = get_args(Schedule)

# Trainer arguments filterscope sets itself, each with the key that controls it.
MANAGED = {
    "accelerator": "train.accelerator",
    "devices": "train.devices",
    "num_nodes": "train.num_nodes",
    "strategy": "train.strategy",
    "sync_batchnorm": "train.sync_batchnorm",
    "precision": "train.precision",
    "max_epochs": "<loop>.epochs",
    "min_epochs": "<loop>.epochs",
    "max_steps": "<loop>.epochs",
    "logger": "tracking",
    "callbacks": "<loop>.early_stop",
    "enable_checkpointing": "filterscope's resume checkpoints",
    "enable_progress_bar": "runtime.progress",
    "enable_model_summary": "filterscope",
    "default_root_dir": "paths.root",
    "num_sanity_val_steps": "filterscope",
}


def trainer_option_problems(section: str, options: Any) -> list[str]:
    """What is wrong with ``<section>.trainer``: keys the Trainer does not take (with the
    nearest names), keys filterscope sets itself (with the key to use), values Lightning
    refuses (it builds a CPU Trainer with them)."""
    options = plain(options)
    if not isinstance(options, Mapping):
        return [f"{section}.trainer={options!r} (allowed: a mapping of Lightning Trainer options)"]
    if not options:  # the usual case: nothing to check, and no Lightning import (seconds)
        return []
    from lightning import Trainer

    accepted = [name for name in inspect.signature(Trainer.__init__).parameters if name != "self"]
    problems = []
    for key in options:
        if key in MANAGED:
            where = MANAGED[key].replace("<loop>", section)
            problems.append(f"{section}.trainer.{key} is set by filterscope (use {where})")
        elif key not in accepted:
            near = difflib.get_close_matches(str(key), accepted, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            problems.append(f"{section}.trainer.{key} is not a Lightning Trainer option{hint}")
    if problems:
        return problems
    quiet = logging.getLogger("lightning.pytorch")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # no "GPU available" lines for a check
    try:
        Trainer(**options, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    except Exception as exc:  # noqa: BLE001 - Lightning's own message says what is wrong
        return [f"{section}.trainer={dict(options)} is refused by Lightning: {exc}"]
    finally:
        quiet.setLevel(level)
    return []


def loop_problems(section: str, cfg: Any) -> list[str]:
    """The checks every loop shares, its keys named under ``section``."""
    p: list[str] = []
    lr, epochs, batch = cfg.lr, cfg.epochs, cfg.batch_size
    check(p, number(lr) and lr > 0, f"{section}.lr", lr, "a number > 0")
    check(p, integer(epochs) and epochs >= 1, f"{section}.epochs", epochs, "an integer >= 1")
    check(p, integer(batch) and batch >= 1, f"{section}.batch_size", batch, "an integer >= 1")
    wd = cfg.weight_decay
    check(p, number(wd) and wd >= 0, f"{section}.weight_decay", wd, "a number >= 0")
    m = cfg.momentum
    check(p, number(m) and 0 <= m < 1, f"{section}.momentum", m, "a number in [0, 1)")
    optimizer, schedule = cfg.optimizer, cfg.schedule
    check(p, optimizer in OPTIMIZERS, f"{section}.optimizer", optimizer, "|".join(OPTIMIZERS))
    check(p, schedule in SCHEDULES, f"{section}.schedule", schedule, "|".join(SCHEDULES))
    decay = cfg.lr_decay
    check(p, number(decay) and 0 < decay <= 1, f"{section}.lr_decay", decay, "a number in (0, 1]")
    shift = cfg.max_shift
    check(p, integer(shift) and shift >= 0, f"{section}.max_shift", shift, "an integer >= 0")
    p += trainer_option_problems(section, cfg.get("trainer"))
    return p
