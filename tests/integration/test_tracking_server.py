"""Stages log to a real `mlflow server` when MLFLOW_TRACKING_URI points at one."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from filterscope.cli import EXIT_USER_ERROR
from tests.integration.mlflow_server import free_port, mlflow_server
from tests.integration.pipeline_copy import tool_env

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
    assert run.data.metrics["train_images"] == 60000
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"config.yaml", "meta.json"}


def test_unreachable_server_fails_fast(tmp_path: Path, mirror_dir: Path) -> None:
    start = time.monotonic()
    proc = download(tmp_path, mirror_dir, f"http://127.0.0.1:{free_port()}")
    assert proc.returncode == EXIT_USER_ERROR
    assert "is unreachable" in proc.stderr.strip().splitlines()[-1]
    assert time.monotonic() - start < 60
    assert not (tmp_path / "data").exists()
