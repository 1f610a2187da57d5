"""A training loop's choices (``train``, ``probe`` and ``prune`` each hold one loop)."""

from __future__ import annotations

from typing import Literal, get_args

Optimizer = Literal["sgd", "adam"]
Schedule = Literal["cosine", "exponential", "constant", "onecycle"]
OPTIMIZERS: tuple[Optimizer, ...] = get_args(Optimizer)
SCHEDULES: tuple[Schedule, ...] = get_args(Schedule)
