"""`make demo` as the README writes it, offline, in a fresh copy of the project."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.pipeline_copy import run
from tests.helpers.readme import VENV, fresh_copy, quickstart_commands, shell

pytestmark = pytest.mark.integration
README_PATH = "/path/to/datasets/fashion-mnist"


def demo_command(mirror_dir: Path) -> str:
    """The README's offline `make demo` line, pointed at the mirror, on this test run's
    virtualenv (``-o setup``: already installed)."""
    (offline,) = [c for c in quickstart_commands() if c.startswith("make demo DATA_SOURCE=")]
    assert offline.startswith("make demo ") and README_PATH in offline
    command = offline.replace(README_PATH, str(mirror_dir / "fashion-mnist"))
    return f"{command} VENV={VENV} -o setup"


def test_demo_ends_with_the_report_and_the_mlflow_address(tmp_path: Path, mirror_dir: Path) -> None:
    project = fresh_copy(tmp_path / "clone")
    proc = shell(demo_command(mirror_dir), project)
    (report,) = re.findall(r"^\[chain\] report: (\S+)$", proc.stderr, flags=re.M)
    assert Path(report) == project / "demo/results/report/report.html" and Path(report).is_file()
    assert "[train] epoch 5/5 | " in proc.stderr and "[probe] epoch 2/2 | " in proc.stderr
    (pruning,) = re.findall(r"^\[chain\] pruning: (\S+)$", proc.stderr, flags=re.M)
    assert Path(pruning) == project / "demo/results/prune/prune.html" and Path(pruning).is_file()

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("filterscope-demo")
    address = f"#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning"
    (printed,) = [line for line in proc.stdout.splitlines() if line.startswith("MLflow UI")]
    assert printed.endswith(f" http://127.0.0.1:5000/{address}")  # (a sub-make adds lines)
    (demo,) = client.search_runs([experiment.experiment_id])
    assert demo.info.status == "FINISHED" and demo.data.tags["filterscope.profile"] == "demo"
    assert demo.data.metrics["test_acc"] > 0.6  # Fashion-MNIST, 10 labels: chance is 0.1
    # Everything it wrote is git-ignored: the demo leaves the project as it found it.
    assert run(["git", "status", "--porcelain"], project).stdout == ""
