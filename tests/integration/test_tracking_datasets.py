"""Dataset inputs of a stage run in a real MLflow store, when a concurrent sweep job wins the
race to register the same dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy.exc import IntegrityError

from filterscope.tracking.ledger import StageRun

pytestmark = pytest.mark.integration

META = {"name": "mnist", "sha256": {"train": "ab" * 32, "test": "cd" * 32}}


class RacedClient:
    """The real client, whose first ``log_inputs`` fails as the losing job's does (``error``)."""

    def __init__(self, client: MlflowClient, error: Exception) -> None:
        self.client, self.error, self.calls = client, error, 0

    def log_inputs(self, run_id: str, datasets: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            raise self.error
        self.client.log_inputs(run_id, datasets=datasets)


def _stage_run(tmp_path: Path, error: Exception) -> tuple[StageRun, RacedClient, MlflowClient]:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("filterscope")
    run_id = client.create_run(experiment).info.run_id
    raced = RacedClient(client, error)
    run = StageRun(raced, run_id, uri, "filterscope", experiment, "p", "train")
    for split in ("train", "test"):
        (tmp_path / f"{split}.pt").write_bytes(b"x")
    return run, raced, client


def test_a_lost_insert_race_still_links_the_datasets(tmp_path: Path) -> None:
    unique = IntegrityError(
        "INSERT INTO datasets", {}, Exception("UNIQUE constraint failed: datasets.name")
    )
    run, raced, client = _stage_run(tmp_path, unique)
    run.log_datasets(META, tmp_path, ("train", "test"))
    linked = client.get_run(run.run_id).inputs.dataset_inputs
    assert sorted(d.dataset.name for d in linked) == ["mnist/test", "mnist/train"]
    assert raced.calls == 2 and run.ledger.missed == []


def test_any_other_store_failure_is_recorded_not_retried(tmp_path: Path) -> None:
    run, raced, client = _stage_run(tmp_path, OSError("disk full"))
    run.log_datasets(META, tmp_path, ("train",))
    assert raced.calls == 1
    assert run.ledger.missed == ["dataset inputs train (disk full)"]
    assert client.get_run(run.run_id).inputs.dataset_inputs == []
