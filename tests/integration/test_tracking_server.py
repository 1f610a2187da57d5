"""Stages log to a real `mlflow server` when MLFLOW_TRACKING_URI points at one."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from filterscope.cli import EXIT_USER_ERROR
from tests.helpers.mlflow_server import free_port, mlflow_server
from tests.helpers.pipeline_copy import tool_env

pytestmark = pytest.mark.integration
SCRIPT = Path(__file__).resolve().parents[2] / "pipeline" / "download.py"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with mlflow_server(f"sqlite:///{tmp_path}/server.db", tmp_path / "server-artifacts") as uri:
        yield uri


def download(project: Path, mirror_dir: Path, uri: str) -> subprocess.CompletedProcess[str]:
    env = {**tool_env(), "MLFLOW_TRACKING_URI": uri}
    cmd = [
        sys.executable,
        str(SCRIPT),
        "data=mnist",
        f"data.source={mirror_dir / 'mnist'}",
        f"paths.root={project}",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=project)


def test_stage_logs_to_the_server(tmp_path: Path, mirror_dir: Path, server: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    proc = download(project, mirror_dir, server)
    assert proc.returncode == 0, proc.stderr
    assert not (project / "mlflow.db").exists()
    client = MlflowClient(server)
    (run,) = client.search_runs([client.get_experiment_by_name("filterscope").experiment_id])
    assert run.info.status == "FINISHED" and run.data.tags["filterscope.stage"] == "download"
    assert run.data.tags["filterscope.train_images"] == "60000" and not run.data.metrics
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"config.yaml", "meta.json"}


def test_unreachable_server_fails_fast(tmp_path: Path, mirror_dir: Path) -> None:
    start = time.monotonic()
    proc = download(tmp_path, mirror_dir, f"http://127.0.0.1:{free_port()}")
    assert proc.returncode == EXIT_USER_ERROR
    assert "is unreachable" in proc.stderr.strip().splitlines()[-1]
    assert time.monotonic() - start < 60
    assert not (tmp_path / "data").exists()


def test_server_lost_mid_run_keeps_the_results(tmp_path: Path, mirror_dir: Path) -> None:
    """The server dies after the first epoch: training finishes, its outputs reach disk, and
    the error lists what was not logged."""
    project = tmp_path / "project"
    project.mkdir()
    download_env = dict(tool_env())
    assert download(project, mirror_dir, "sqlite:///" + str(project / "local.db")).returncode == 0
    cmd = [
        sys.executable,
        str(SCRIPT.parent / "train.py"),
        "experiment=mnist_convnet",
        "data.train_limit=3000",
        "data.test_limit=500",
        "train.epochs=4",
        "runtime.progress=false",
        f"paths.root={project}",
    ]
    with mlflow_server(f"sqlite:///{tmp_path}/server.db", tmp_path / "art") as uri:
        env = {**download_env, "MLFLOW_TRACKING_URI": uri}
        proc = subprocess.Popen(cmd, cwd=project, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while not list(project.glob(".resume/*/last.ckpt")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    _, err = proc.communicate(timeout=600)  # the server is gone from here on
    assert proc.returncode == EXIT_USER_ERROR, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: MLflow store") and "these were not logged" in last
    assert (project / "models/backbone/backbone.pt").is_file()
    assert json.loads((project / "metrics/train.json").read_text())["epochs"] == 4
