"""What one finished job of a sweep is, as plain data: the MLflow layer returns it, the
comparison code reads it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

HISTORY_METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "seconds")
# The mechanism's own numbers, per probed layer (a whole-chain job logs them with step = layer).
LAYER_METRICS = (
    "probe_accuracy",
    "clusters_per_filter",
    "mean_cluster_size",
    "noise_per_filter",
    "snr_threshold",
    "snr_cluster",
)

# What the prune stage logs per arm (``<arm><suffix>``: ``afcc_theta_0.30_finetuned_acc``).
PRUNING_SUFFIXES = ("_kept_fraction", "_pruned_acc", "_finetuned_acc")
# An arm's metric, by its name (``dense`` or ``<method>_theta_<theta>``, :func:`arm_name`): not
# the report's per-layer ``afcc_kept_fraction``, which a whole-chain run logs beside it.
PRUNING_METRIC = re.compile(
    r"(?P<arm>dense|(?P<method>[a-z]+)_theta_(?P<theta>\d+\.\d+))"
    r"(?P<suffix>" + "|".join(PRUNING_SUFFIXES) + ")"
)


def arm_name(method: str, theta: float | None) -> str:
    """A pruning arm's key everywhere: ``afcc_theta_0.30``, ..., or ``dense`` (no theta)."""
    return method if theta is None else f"{method}_theta_{theta:.2f}"


@dataclass(frozen=True)
class RunHistory:
    """One sweep job: its params, test accuracy, per-epoch metric histories and, for a
    whole-chain job, the mechanism's numbers per probed layer (``{metric: {layer: value}}``)
    and, where it pruned, each arm's numbers (``{"<arm><suffix>": value}``, see
    :data:`PRUNING_SUFFIXES`)."""

    run_id: str
    params: Mapping[str, str]
    test_acc: float
    history: Mapping[str, Sequence[float]] = field(default_factory=dict)
    layers: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    pruning: Mapping[str, float] = field(default_factory=dict)
