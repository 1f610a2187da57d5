"""Which config keys a run logs as MLflow params: the hyper-parameters, flattened."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Top-level config keys that change how or where a stage runs, not what it computes: output
# folders, threads and progress bars, the tracking store, the profile's label, a sweeper's
# objective, compare.py's and chain.py's own options. No DVC stage lists them as params
# (tests/unit/test_dvc_deps.py checks both sides against dvc.yaml); a run keeps them in its
# config.yaml artifact, and its folder in the tag filterscope.output_dir.
OUTPUT_NEUTRAL = ("paths", "runtime", "tracking", "profile", "objective", "compare", "chain")


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}} -> {"a.b": "1"}``; lists become their string form."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def hyperparameters(config: Mapping[str, Any]) -> dict[str, str]:
    """The flattened ``config`` without its :data:`OUTPUT_NEUTRAL` keys (and Hydra's own)."""
    kept = {k: v for k, v in config.items() if k not in (*OUTPUT_NEUTRAL, "hydra")}
    return flatten(kept)
