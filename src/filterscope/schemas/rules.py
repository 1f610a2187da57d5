"""The kinds of value the config checks accept, and the one-line problem a check writes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from omegaconf import OmegaConf


def number(value: Any) -> bool:
    """A finite int or float (not a bool, NaN or infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def integer(value: Any) -> bool:
    """An int that is not a bool (YAML ``true`` is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def listed(value: Any) -> bool:
    """A list (a ListConfig too), not a string."""
    return isinstance(value, Sequence) and not isinstance(value, str)


def check(problems: list[str], ok: bool, key: str, value: Any, allowed: str) -> None:
    """Add ``key=value (allowed: ...)`` to ``problems`` unless ``ok``."""
    if not ok:
        problems.append(f"{key}={value!r} (allowed: {allowed})")


def plain(options: Any) -> Any:
    """A config node as plain Python containers (``{}`` for null)."""
    if OmegaConf.is_config(options):
        return OmegaConf.to_container(options, resolve=True)
    return {} if options is None else options
