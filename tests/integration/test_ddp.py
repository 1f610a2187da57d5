"""Training and probing under Lightning DDP: 2 CPU processes (gloo) against one process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.pipeline_copy import tool_env

pytestmark = pytest.mark.integration
PIPELINE = Path(__file__).resolve().parents[2] / "pipeline"
DDP = ("train.accelerator=cpu", "train.devices=2", "train.strategy=ddp")
# Both runs see the same global batches in the same order (each DDP process half of every
# batch, gradients averaged); they differ only in dropout masks and float summation order.
TOLERANCE = 0.02


def stage(script: str, root: Path, mnist_root: Path, *overrides: str) -> dict[str, object]:
    """Run a stage script in ``root``; returns the result line it printed (rank zero's only)."""
    cmd = [
        sys.executable, str(PIPELINE / script),
        "experiment=mnist_convnet", "data.train_limit=3000", "data.test_limit=1000",
        "train.epochs=2", "probe.epochs=1", "runtime.progress=false",
        f"paths.root={root}", f"paths.data={mnist_root}",
        f"tracking.uri=sqlite:///{mnist_root}/mlflow.db", *overrides,
    ]  # fmt: skip
    root.mkdir(exist_ok=True)
    proc = subprocess.run(cmd, cwd=root, env=tool_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 1, proc.stdout  # one report, not one per process
    return json.loads(results[0])


def runs(mnist_root: Path, stage_name: str) -> list[object]:
    client = MlflowClient(f"sqlite:///{mnist_root}/mlflow.db")
    experiment = client.get_experiment_by_name("filterscope").experiment_id
    return client.search_runs([experiment], f"tags.`filterscope.stage` = '{stage_name}'")


def test_two_process_ddp_matches_one_process(mnist_root: Path) -> None:
    single, ddp = mnist_root / "single", mnist_root / "ddp"
    trained_single = stage("train.py", single, mnist_root)
    trained_ddp = stage("train.py", ddp, mnist_root, *DDP)
    probed_single = stage("probe.py", single, mnist_root)
    probed_ddp = stage("probe.py", ddp, mnist_root, *DDP)

    assert trained_ddp["train_images"] == trained_single["train_images"] == 2700
    accuracy = {
        "train": (trained_single["test_acc"], trained_ddp["test_acc"]),
        "probe": tuple(p["accuracy"]["layer_01"] for p in (probed_single, probed_ddp)),
    }
    for one, two in accuracy.values():
        assert one > 0.7 and abs(two - one) <= TOLERANCE, accuracy  # chance: 0.1

    client = MlflowClient(f"sqlite:///{mnist_root}/mlflow.db")
    for stage_name, epochs, metric in (
        ("train", 2, "train_loss"),
        ("probe", 1, "probe_train_loss_layer_01"),
    ):
        found = runs(mnist_root, stage_name)
        assert len(found) == 2  # the DDP run is one run, logged by rank zero alone
        assert {r.info.status for r in found} == {"FINISHED"}
        (ddp_run,) = [r for r in found if r.data.params["train.devices"] == "2"]
        history = client.get_metric_history(ddp_run.info.run_id, metric)
        assert sorted(m.step for m in history) == list(range(1, epochs + 1))
    # rank zero wrote the outputs once; no worker left its own
    assert (ddp / "models/backbone/backbone.pt").is_file()
    assert (ddp / "models/probes/probes.pt").is_file()
    assert not list(ddp.glob(".resume/*"))


def test_multi_device_sweep_jobs_are_refused(mnist_root: Path) -> None:
    cmd = [
        sys.executable, str(PIPELINE / "train.py"), "-m", "experiment=mnist_convnet",
        f"paths.data={mnist_root}", f"tracking.uri=sqlite:///{mnist_root}/sweep.db",
        "train.lr=0.1,0.01", *DDP,
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=mnist_root, env=tool_env(), capture_output=True, text=True)
    assert proc.returncode != 0
    assert "error: train.devices x train.num_nodes = 2 processes cannot run in a sweep job" in (
        proc.stderr
    )
