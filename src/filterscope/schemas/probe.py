"""The probe group's checks, and the layers ``probe.layers`` names."""

from __future__ import annotations

from typing import Any

from filterscope.errors import ConfigError
from filterscope.schemas.loop import loop_problems
from filterscope.schemas.rules import integer, listed


def probe_problems(probe: Any) -> list[str]:
    """Every invalid value of the probe group that the config itself shows (its layers are
    checked on the model, :func:`resolve_layers`)."""
    return loop_problems("probe", probe)


def resolve_layers(spec: Any, num_layers: int) -> list[int]:
    """``"all"`` or a list of 1-based conv layer indices -> sorted unique indices, checked."""
    if isinstance(spec, str) and spec == "all":
        return list(range(1, num_layers + 1))
    if integer(spec):
        layers: Any = [spec]
    elif listed(spec):  # a list or a ListConfig
        layers = list(spec)
    else:
        layers = spec  # None, a float, a mapping, another string: never valid
    ok = isinstance(layers, list) and bool(layers)
    if not ok or any(not integer(v) or not 1 <= v <= num_layers for v in layers):
        raise ConfigError(
            f"probe.layers={layers!r} out of range: this model has cut points 1..{num_layers}"
            " (probe.cuts; or use 'all')"
        )
    return sorted(set(layers))
