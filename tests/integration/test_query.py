"""Reading sweeps back from a real SQLite MLflow store: which `make compare LAST=n` picks, and
what a sweep's jobs logged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from filterscope.errors import ConfigError
from filterscope.stages.compare import compare_sweep
from filterscope.tracking.query import newest_sweeps, sweep_histories
from filterscope.tracking.ui import compare_url

pytestmark = pytest.mark.integration


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


def test_compare_reads_each_arms_numbers_back_from_the_store(tmp_path: Path) -> None:
    """Two finished chain jobs of a sweep that pruned: compare.py's pruning tables come from
    the arms' metrics as the prune stage logs them, not from the report's per-layer AFCC
    numbers that the same run holds."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("filterscope")
    parent = client.create_run(experiment, tags={"filterscope.stage": "sweep"}).info.run_id
    for seed, afcc in ((0, 0.55), (1, 0.57)):
        child = client.create_run(experiment, tags={"mlflow.parentRunId": parent}).info.run_id
        client.log_param(child, "seed", str(seed))
        client.log_metric(child, "test_acc", 0.6)
        client.log_metric(child, "afcc_kept_fraction", 0.2, step=13)  # the report's, layer 13
        client.log_metric(child, "afcc_theta_0.30_pruned_acc", afcc)
        client.log_metric(child, "random_theta_0.30_pruned_acc", 0.40)
        for arm in ("afcc_theta_0.30", "random_theta_0.30"):
            client.log_metric(child, f"{arm}_kept_fraction", 0.25)
            client.log_metric(child, f"{arm}_finetuned_acc", 0.6)
        client.set_terminated(child, "FINISHED")
    runs = sweep_histories(uri, "filterscope", parent)
    assert sorted(len(r.pruning) for r in runs) == [6, 6]
    out = tmp_path / "compare"
    result = compare_sweep(uri, "filterscope", parent, out, "http://ui:5000")
    tags = client.get_run(parent).data.tags
    link = compare_url("http://ui:5000", experiment, [r.run_id for r in runs])
    assert result["compare_url"] == tags["filterscope.compare_url"] == link
    assert f"]({link})" in tags["mlflow.note.content"]  # the run's description links it
    tests = pd.read_csv(out / "pruning_tests.csv").set_index("number")
    assert tests.loc["pruned_acc", "diff"] == pytest.approx(0.16)  # (0.15 + 0.17) / 2
    assert tests.loc["pruned_acc", "n"] == 2 and tests.loc["pruned_acc", "control"] == "random"
    assert (out / "pruning.md").is_file() and (out / "pruning_runs.md").is_file()
    arms = set(pd.read_csv(out / "pruning_runs.csv")["arm"])
    assert arms == {"afcc_theta_0.30", "random_theta_0.30"}
