"""DVC's own sweep route: queued experiments run in temporary copies and still log to the
project's MLflow store, tagged with their experiment names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.pipeline_copy import make_project, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_queued_experiments_land_in_the_project_store(
    tmp_path: Path, repo_root: Path, mirror_dir: Path
) -> None:
    project = tmp_path / "project"
    values = {
        "data": {"source": str(mirror_dir / "mnist"), "train_limit": 300, "test_limit": 100},
        "train": {"epochs": 1},
        "runtime": {"progress": False},
        "probe": {"epochs": 1},
    }
    make_project(repo_root, project, {"data": "mnist", "model": "convnet"}, values)
    run(["dvc", "exp", "run", "--queue", "-S", "train.lr=0.1,0.01"], project)
    run(["dvc", "exp", "run", "--run-all", "-j", "1"], project)

    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    exps = {
        rev["name"]: rev["data"]
        for entry in shown
        for exp in entry.get("experiments") or []
        for rev in exp["revs"]
    }
    assert len(exps) == 2
    lrs = {data["params"]["params.yaml"]["data"]["train"]["lr"] for data in exps.values()}
    assert lrs == {0.1, 0.01}
    assert all("metrics/summary.json" in data["metrics"] for data in exps.values())

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs(["1"], "tags.`filterscope.stage` = 'train'")
    assert {r.data.tags["dvc.exp_name"] for r in runs} == set(exps)
    assert {r.data.params["train.lr"] for r in runs} == {"0.1", "0.01"}
    assert not list((project / ".dvc" / "tmp").rglob("mlflow.db"))  # no stray stores
