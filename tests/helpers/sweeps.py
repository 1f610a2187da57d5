"""Hydra multirun sweeps of the tiny MNIST config, run as a user runs them, and read back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from tests.helpers.pipeline_copy import tool_env

PIPELINE = Path(__file__).resolve().parents[2] / "pipeline"


def multirun(mnist_root: Path, script: str, *overrides: str) -> subprocess.CompletedProcess[str]:
    """``pipeline/<script> -m`` on the tiny tutorial config with ``overrides``, in
    ``mnist_root`` (its prepared MNIST, its store ``mlflow.db``)."""
    tiny = [
        "experiment=mnist_convnet",
        "data.train_limit=400",
        "data.test_limit=200",
        "train.epochs=2",
        "runtime.progress=false",
        "probe.epochs=1",
        f"tracking.uri=sqlite:///{mnist_root}/mlflow.db",
    ]
    cmd = [sys.executable, str(PIPELINE / script), "-m", *tiny, *overrides]
    return subprocess.run(cmd, cwd=mnist_root, env=tool_env(), capture_output=True, text=True)


def sweep_runs(mnist_root: Path, stage: str) -> tuple[object, list[object]]:
    """The newest sweep parent run and its child runs."""
    client = MlflowClient(f"sqlite:///{mnist_root}/mlflow.db")
    experiment = client.get_experiment_by_name("filterscope").experiment_id
    parent = client.search_runs(
        [experiment], "tags.`filterscope.stage` = 'sweep'", order_by=["attributes.start_time DESC"]
    )[0]
    children = client.search_runs(
        [experiment], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert {c.data.tags["filterscope.stage"] for c in children} == {stage}
    return parent, children
