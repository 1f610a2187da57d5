"""Every stage run carries MLflow's own system metrics (the UI's System metrics tab), unless
``runtime.system_metrics=false``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from filterscope.tracking import stage_run
from tests.helpers.configs import config

pytestmark = pytest.mark.integration


def test_a_stage_run_records_system_metrics_unless_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.5")
    runs = {}
    for on in ("true", "false"):
        with stage_run(config(tmp_path, f"runtime.system_metrics={on}"), "train") as tracked:
            time.sleep(2)  # a few samples
            runs[on] = tracked.run_id
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    sampled = client.get_run(runs["true"]).data.metrics
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= set(
        sampled
    )
    assert 0 <= sampled["system/cpu_utilization_percentage"] <= 100
    history = client.get_metric_history(runs["true"], "system/cpu_utilization_percentage")
    assert len(history) >= 2
    assert not [k for k in client.get_run(runs["false"]).data.metrics if k.startswith("system/")]
    assert client.get_run(runs["true"]).info.status == "FINISHED"
