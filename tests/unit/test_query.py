"""Which sweeps `make compare LAST=n` picks, on a real SQLite MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from filterscope.errors import ConfigError
from filterscope.tracking.query import newest_sweeps


def test_the_newest_sweeps_are_those_that_ran_last(tmp_path: Path) -> None:
    """A ran first, then B; then A resumed (reopened and ended again): A is the newest. A sweep
    still running comes before both."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    with pytest.raises(ConfigError, match="no MLflow experiment"):
        newest_sweeps(uri, "filterscope", 1)
    experiment = client.create_experiment("filterscope")
    with pytest.raises(ConfigError, match="no sweep"):
        newest_sweeps(uri, "filterscope", 1)

    def sweep(start: int) -> str:
        run = client.create_run(experiment, start_time=start, tags={"filterscope.stage": "sweep"})
        return run.info.run_id

    a, b = sweep(1_000), sweep(2_000)
    client.create_run(experiment, start_time=9_000, tags={"filterscope.stage": "train"})
    client.set_terminated(a, "FINISHED", end_time=1_500)
    client.set_terminated(b, "FINISHED", end_time=2_500)
    assert newest_sweeps(uri, "filterscope", 2) == [b, a]
    client.update_run(a, status="RUNNING")  # resumed, as SweepRun reopens it
    client.set_terminated(a, "FINISHED", end_time=3_000)
    assert newest_sweeps(uri, "filterscope", 1) == [a]
    running = sweep(500)
    assert newest_sweeps(uri, "filterscope", 3) == [running, a, b]
