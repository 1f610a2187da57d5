"""Reading sweeps back from MLflow for comparison."""

from __future__ import annotations

import math
import sys
from typing import Any

from filterscope.errors import ConfigError
from filterscope.runs import HISTORY_METRICS, LAYER_METRICS, PRUNING_METRIC, RunHistory


def _value(logged: float) -> float:
    """A metric as logged: MLflow stores an infinity (an SNR without noise) as the largest float."""
    return math.copysign(math.inf, logged) if abs(logged) >= sys.float_info.max else logged


def _steps(client: Any, run_id: str, metric: str) -> dict[int, float]:
    return {m.step: _value(m.value) for m in client.get_metric_history(run_id, metric)}


def _history(client: Any, run_id: str, metric: str) -> list[float]:
    return [value for _, value in sorted(_steps(client, run_id, metric).items())]


def _client_and_experiment(uri: str, experiment: str) -> tuple[Any, list[str]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ConfigError(f"no MLflow experiment {experiment!r} in {uri}; run a sweep first")
    return client, [found.experiment_id]


def newest_sweeps(uri: str, experiment: str, count: int) -> list[str]:
    """Parent run ids of the ``count`` sweeps that ran last, newest first: by when each last
    ended (a running one first), so a sweep resumed after others counts as new."""
    client, ids = _client_and_experiment(uri, experiment)
    parents = client.search_runs(ids, "tags.`filterscope.stage` = 'sweep'")
    if not parents:
        raise ConfigError(f"no sweep in experiment {experiment!r}; run `make sweep` first")

    def last_active(run: Any) -> float:
        if run.info.status == "RUNNING" or run.info.end_time is None:
            return math.inf
        return float(run.info.end_time)

    return [p.info.run_id for p in sorted(parents, key=last_active, reverse=True)[:count]]


def sweep_histories(uri: str, experiment: str, sweep_id: str) -> list[RunHistory]:
    """The finished jobs of sweep ``sweep_id`` (its parent run) with their per-epoch histories
    and, where they logged them, their per-layer numbers."""
    client, ids = _client_and_experiment(uri, experiment)
    children = client.search_runs(
        ids, f"tags.`mlflow.parentRunId` = '{sweep_id}' and attributes.status = 'FINISHED'"
    )
    runs = [
        RunHistory(
            run_id=child.info.run_id,
            params=dict(child.data.params),
            test_acc=child.data.metrics.get("test_acc", float("nan")),
            history={m: _history(client, child.info.run_id, m) for m in HISTORY_METRICS},
            layers={
                m: _steps(client, child.info.run_id, m)
                for m in LAYER_METRICS
                if m in child.data.metrics
            },
            pruning={k: v for k, v in child.data.metrics.items() if PRUNING_METRIC.fullmatch(k)},
        )
        for child in children
    ]
    if not runs:
        raise ConfigError(f"sweep {sweep_id} has no finished runs to compare")
    return runs
