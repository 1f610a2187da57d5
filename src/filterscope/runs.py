"""What one finished job of a sweep is, as plain data: the MLflow layer returns it, the
comparison code reads it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunHistory:
    """One sweep job: its params, test accuracy and per-epoch metric histories."""

    run_id: str
    params: Mapping[str, str]
    test_acc: float
    history: Mapping[str, Sequence[float]] = field(default_factory=dict)
