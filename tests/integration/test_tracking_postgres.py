"""Stages log to a shared `mlflow server` whose store is PostgreSQL and whose artifacts it keeps
in its own folder (proxied to clients)."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest
from mlflow.tracking import MlflowClient

from filterscope.stages import download, train
from tests.helpers.configs import config
from tests.helpers.mlflow_server import mlflow_server
from tests.helpers.postgres_server import postgres_server

pytestmark = pytest.mark.integration
TINY = [
    "experiment=mnist_convnet",
    "data.train_limit=400",
    "data.test_limit=200",
    "train.epochs=2",
    "train.lr=0.005",
    "runtime.progress=false",
]
# SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3: name the driver the `postgres` extra has.
DRIVER = "postgresql+psycopg2:"


def test_training_run_lands_in_postgres(tmp_path: Path, mirror_dir: Path) -> None:
    artifacts = tmp_path / "server-artifacts"
    with (
        postgres_server() as database,
        mlflow_server(database.replace("postgresql:", DRIVER, 1), artifacts) as server,
    ):
        served = f"tracking.uri={server}"
        download.run(config(tmp_path, "data=mnist", f"data.source={mirror_dir / 'mnist'}", served))
        summary = train.run(config(tmp_path, *TINY, served))

        client = MlflowClient(server)
        experiment = client.get_experiment_by_name("filterscope").experiment_id
        (run,) = client.search_runs([experiment], "tags.`filterscope.stage` = 'train'")
        run_id = run.info.run_id
        assert run.info.status == "FINISHED"
        assert run.data.params["train.lr"] == "0.005"
        assert [m.step for m in client.get_metric_history(run_id, "val_acc")] == [1, 2]
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        fetched = client.download_artifacts(run_id, "train.json", str(tmp_path / "fetched"))
        assert json.loads(Path(fetched).read_text()) == summary
        assert len(list(artifacts.rglob("checkpoint/*"))) == 1  # stored by the server

        with closing(psycopg2.connect(database)) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,))
            assert cursor.fetchall() == [("FINISHED",)]
    assert not (tmp_path / "mlflow.db").exists()
