"""Two `dvc repro` at once in one workspace: DVC's locks let one run, the other fails cleanly.

Both reproduce the `train` stage and what it needs (download, train): the locks are DVC's, the
same for every stage, so the race needs no more of the pipeline than that."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers.pipeline_copy import make_project, run, tool_env

pytestmark = pytest.mark.integration

UP_TO_DATE = "Data and pipelines are up to date."
TARGET = "train"


@pytest.fixture
def project(tmp_path: Path, repo_root: Path, mirror_dir: Path) -> Path:
    """A tiny MNIST convnet pipeline, committed and never run."""
    values = {
        "data": {"source": str(mirror_dir / "mnist"), "train_limit": 300, "test_limit": 100},
        "train": {"epochs": 1},
        "runtime": {"progress": False},
    }
    groups = {"data": "mnist", "model": "convnet"}
    return make_project(repo_root, tmp_path / "project", groups, values)


def repro_twice_at_once(project: Path, logs: Path) -> list[tuple[int, str]]:
    """Start two `dvc repro train` together; their exit codes and stderr (files: no pipe to
    fill)."""
    logs.mkdir()
    procs = []
    for i in range(2):
        with open(logs / f"{i}.out", "w") as out, open(logs / f"{i}.err", "w") as err:
            cmd = ["dvc", "repro", TARGET]
            procs.append(subprocess.Popen(cmd, cwd=project, env=tool_env(), stdout=out, stderr=err))
    codes = [p.wait(timeout=300) for p in procs]
    return [(code, (logs / f"{i}.err").read_text()) for i, code in enumerate(codes)]


def test_two_repros_at_once_one_wins_and_outputs_stay_consistent(
    project: Path, tmp_path: Path
) -> None:
    results = repro_twice_at_once(project, tmp_path / "logs")
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] != 0, [(code, err[-2000:]) for code, err in results]
    loser = next(err for code, err in results if code != 0)
    print(f"exit codes {[code for code, _ in results]}; the loser's stderr:\n{loser.strip()}")
    # Either the repo lock ("Unable to acquire lock ...") or a stage's output lock ("'...' is
    # busy, it is being blocked by ... rwlock"), depending on who got there first.
    assert "ERROR" in loser and "lock" in loser.lower(), loser

    assert (project / "models/backbone/backbone.pt").is_file()
    status = run(["dvc", "status", TARGET], project)
    assert UP_TO_DATE in status.stdout, status.stdout
    again = run(["dvc", "repro", TARGET], project)
    assert UP_TO_DATE in again.stdout, again.stdout
    assert "Running stage" not in again.stdout
