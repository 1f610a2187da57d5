"""The README's offline quick start, run as written in a fresh copy of the project: it leaves
a project whose runs are not tagged dirty and whose params test still passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from filterscope.params import recorded_overrides
from tests.helpers.pipeline_copy import run, tool_env
from tests.helpers.readme import VENV, fresh_copy, quickstart_commands, shell

pytestmark = pytest.mark.integration
README_PATH = "/path/to/datasets/cifar10-subset"


def offline_quickstart(mirror_dir: Path, *extra: str) -> str:
    """The README's offline `make run` line, pointed at the mirror, on this test run's virtualenv
    (``-o setup``: already installed) with ``extra`` make arguments."""
    (offline,) = [
        c for c in quickstart_commands() if c.startswith("make run ") and "DATA_SOURCE=" in c
    ]
    assert offline.startswith("make run ") and README_PATH in offline
    command = offline.replace(README_PATH, str(mirror_dir / "cifar10-subset"))
    return f"{command} VENV={VENV} -o setup {' '.join(extra)}"


def _runs(project: Path) -> list:
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def _quickstart_holds(project: Path, stages: set[str], mirror_dir: Path) -> None:
    runs = _runs(project)
    assert {r.data.tags["filterscope.stage"] for r in runs} == stages
    assert {r.data.tags["filterscope.git_dirty"] for r in runs} == {"false"}
    assert {r.data.tags["filterscope.dataset"] for r in runs} == {"cifar10"}
    # The quick start rewrote params.yaml with its overrides (whatever the clone held before) ...
    source = f"data.source={mirror_dir / 'cifar10-subset'}"
    assert recorded_overrides(project / "params.yaml") == ["data=cifar10_subset", source]
    test = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/unit/test_config.py::test_params_yaml_is_the_composition_of_conf",
    ]
    proc = subprocess.run(test, cwd=project, env=tool_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]  # ... and the params test still passes


def test_offline_quickstart_leaves_a_clean_project(tmp_path: Path, mirror_dir: Path) -> None:
    """The README's line as written, through the download stage (the slow test below runs
    every stage)."""
    project = fresh_copy(tmp_path / "clone")
    shell(offline_quickstart(mirror_dir, "STAGES=download"), project)
    _quickstart_holds(project, {"download"}, mirror_dir)


@pytest.mark.slow
def test_offline_quickstart_whole(tmp_path: Path, mirror_dir: Path) -> None:
    """The whole default profile (minutes): every stage, then a second `dvc repro` is a no-op."""
    project = fresh_copy(tmp_path / "clone")
    shell(offline_quickstart(mirror_dir), project)
    stages = {"download", "train", "probe", "extract", "report", "prune"}
    _quickstart_holds(project, stages, mirror_dir)
    assert (project / "results/report/report.html").is_file()
    assert "up to date" in run(["dvc", "status"], project).stdout
