"""The runtime group's checks."""

from __future__ import annotations

from typing import Any

from filterscope.schemas.rules import check, integer


def runtime_problems(runtime: Any) -> list[str]:
    """Every invalid value of the runtime group."""
    p: list[str] = []
    threads = runtime.threads
    ok = threads is None or (integer(threads) and threads >= 1)
    check(p, ok, "runtime.threads", threads, "null or an integer >= 1")
    monitor = runtime.system_metrics
    check(p, isinstance(monitor, bool), "runtime.system_metrics", monitor, "true|false")
    return p
