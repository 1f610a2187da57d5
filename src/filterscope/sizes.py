"""The config's one way to give a 2-D size: null, an integer ``s`` (s x s) or ``[h, w]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from filterscope.errors import ConfigError


def size_pair(value: Any, key: str) -> tuple[int, int] | None:
    """``value`` of config key ``key`` as ``(h, w)``, None for null; ConfigError otherwise."""
    if value is None:
        return None
    listed = isinstance(value, Sequence) and not isinstance(value, str)
    size = list(value) if listed else [value, value]
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in size):
        size = [0]
    if len(size) != 2 or min(size) < 1:
        raise ConfigError(f"{key}={value!r} (allowed: null, an integer >= 1 or [h, w])")
    return size[0], size[1]
