"""One MLflow run per pipeline stage, tied to the other stages of its pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from filterscope.errors import FilterscopeError
from filterscope.tracking.params import flatten
from filterscope.tracking.store import default_artifact_root, project_root, tracking_uri

RUN_RECORD = "mlflow_run.json"
PIPELINE_ENV = "FILTERSCOPE_PIPELINE_ID"


class TrackingError(FilterscopeError):
    """The tracking store cannot be used."""


def _git_commit(root: Path) -> tuple[str | None, bool]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, False
    return commit, bool(dirty)


def read_run_record(directory: Path) -> dict[str, str] | None:
    """The run record a stage left beside its outputs, if any."""
    path = Path(directory) / RUN_RECORD
    return json.loads(path.read_text()) if path.is_file() else None


class StageRun:
    """The MLflow run of one stage; the only object stages use to log (always by run id)."""

    def __init__(
        self, client: Any, run_id: str, uri: str, experiment: str, pipeline_id: str, stage: str
    ) -> None:
        self.client = client
        self.stage = stage
        self.run_id = run_id
        self.uri = uri
        self.experiment = experiment
        self.pipeline_id = pipeline_id

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if Path(path).is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file)

    def lightning_logger(self) -> Any:
        """Lightning's MLFlowLogger writing into this run (always with an explicit tracking URI)."""
        from lightning.pytorch.loggers import MLFlowLogger

        return MLFlowLogger(
            experiment_name=self.experiment, tracking_uri=self.uri, run_id=self.run_id
        )

    def record(self, directory: Path) -> None:
        """Leave a record beside the stage's outputs so downstream stages can link to this run."""
        payload = {"run_id": self.run_id, "pipeline_id": self.pipeline_id, "stage": self.stage}
        (Path(directory) / RUN_RECORD).write_text(json.dumps(payload, indent=2) + "\n")


def _check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast on a tracking server that does not answer (MLflow itself retries for minutes)."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        raise TrackingError(
            f"MLflow tracking server {uri} is unreachable ({exc}); start it or unset"
            " MLFLOW_TRACKING_URI / tracking.uri to use the embedded store"
        ) from exc


def _experiment_id(client: Any, name: str, uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name, artifact_location=default_artifact_root(uri))
    except Exception:  # another process created it first
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


@contextmanager
def stage_run(cfg: DictConfig, stage: str, upstream: Path | None = None) -> Iterator[StageRun]:
    """Start the stage's MLflow run: tags, flattened params and the resolved config.

    The pipeline id is ``$FILTERSCOPE_PIPELINE_ID`` when set, else inherited from the upstream
    stage's run record (``upstream`` dir), else new. A failure marks the run FAILED, an interrupt
    KILLED; the run is never left RUNNING.
    """
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(cfg.tracking.uri)
    name = str(cfg.tracking.experiment)
    _check_reachable(uri)
    client = MlflowClient(uri)
    try:
        experiment_id = _experiment_id(client, name, uri)
    except Exception as exc:  # noqa: BLE001 - any store failure is reported the same way
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrackingError(f"MLflow tracking store {uri} is unusable: {first_line}") from exc

    parent = read_run_record(upstream) if upstream is not None else None
    pipeline_id = (
        os.environ.get(PIPELINE_ENV) or (parent or {}).get("pipeline_id") or uuid.uuid4().hex
    )
    root = project_root()
    commit, dirty = _git_commit(root)
    tags = {
        "filterscope.stage": stage,
        "filterscope.pipeline_id": pipeline_id,
        "filterscope.profile": str(cfg.get("profile", "")),
        "filterscope.dataset": str(cfg.data.name),
        "filterscope.model": str(cfg.model.name),
        "filterscope.git_dirty": str(dirty).lower(),
    }
    if commit:
        tags["mlflow.source.git.commit"] = commit
    if parent:
        tags["filterscope.upstream_run_id"] = parent["run_id"]
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
    tags["mlflow.runName"] = f"{stage}-{cfg.data.name}-{cfg.model.name}"
    run_id = client.create_run(experiment_id, tags=tags).info.run_id
    status = "FAILED"
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
        params = [Param(k, v) for k, v in flatten(container).items()]
        for start in range(0, len(params), 100):  # MLflow's batch limit
            client.log_batch(run_id, params=params[start : start + 100])
        tracked = StageRun(client, run_id, uri, name, pipeline_id, stage)
        tracked.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
        yield tracked
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        client.set_terminated(run_id, status)
