"""Where runs are tracked: the project root, the MLflow tracking URI, and a client for the
store, checked before a stage starts."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from filterscope.errors import FilterscopeError

# DVC runs queued/temp experiments in a copy under <project>/.dvc/tmp/exps/...; runs made there
# must still land in the project's own store.
_DVC_TEMP_PARTS = (".dvc", "tmp", "exps")
# MLflow retries a failing server for minutes per call by default; a stage that has already
# checked the server at start gives up sooner and keeps training (see Ledger).
_HTTP_PATIENCE = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
# MLflow 3's experiment kind for classic model training (its UI reads this tag).
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


class TrackingError(FilterscopeError):
    """The tracking store cannot be used."""


def project_root(start: Path | None = None) -> Path:
    """The project that owns ``start`` (default: cwd), seen through DVC's temporary workspaces."""
    here = (start or Path.cwd()).resolve()
    parts = here.parts
    for i in range(len(parts) - len(_DVC_TEMP_PARTS) + 1):
        if parts[i : i + len(_DVC_TEMP_PARTS)] == _DVC_TEMP_PARTS:
            return Path(*parts[:i])
    for candidate in (here, *here.parents):
        if (candidate / ".dvc").is_dir() or (candidate / ".git").exists():
            return candidate
    return here


def tracking_uri(configured: str | None = None, start: Path | None = None) -> str:
    """``configured`` (``tracking.uri``), else ``$MLFLOW_TRACKING_URI``, else the embedded SQLite
    store ``sqlite:///<project>/mlflow.db`` (absolute, so every stage and sweep job shares it)."""
    if configured:
        return str(configured)
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{project_root(start) / 'mlflow.db'}"


def default_artifact_root(uri: str, start: Path | None = None) -> str | None:
    """``mlartifacts/`` beside an embedded SQLite store's file (a relative file: under ``start``,
    default cwd); None for a server (it decides)."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    db = db if db.is_absolute() else (start or Path.cwd()) / db
    return (db.resolve().parent / "mlartifacts").as_uri()


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


def experiment_id(client: Any, name: str, uri: str) -> str:
    """The experiment ``name`` (created if new), tagged as model development
    (:data:`EXPERIMENT_KIND`) so MLflow 3's UI opens it on its runs table, not its GenAI views."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            client.create_experiment(name, artifact_location=default_artifact_root(uri))
        except Exception:
            if client.get_experiment_by_name(name) is None:  # not another process, first
                raise
        experiment = client.get_experiment_by_name(name)
    key, kind = EXPERIMENT_KIND
    if experiment.tags.get(key) != kind:
        client.set_experiment_tag(experiment.experiment_id, key, kind)
    return experiment.experiment_id


def store_client(cfg: DictConfig) -> tuple[Any, str, str]:
    """A client for the configured store, its URI and the experiment id (created if new)."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(cfg.tracking.uri)
    _check_reachable(uri)
    for key, value in _HTTP_PATIENCE.items():
        os.environ.setdefault(key, value)
    client = MlflowClient(uri)
    try:
        return client, uri, experiment_id(client, str(cfg.tracking.experiment), uri)
    except Exception as exc:  # noqa: BLE001 - any store failure is reported the same way
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrackingError(f"MLflow tracking store {uri} is unusable: {first_line}") from exc
