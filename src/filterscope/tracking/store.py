"""Where runs are tracked: the project root and the MLflow tracking URI."""

from __future__ import annotations

import os
from pathlib import Path

# DVC runs queued/temp experiments in a copy under <project>/.dvc/tmp/exps/...; runs made there
# must still land in the project's own store.
_DVC_TEMP_PARTS = (".dvc", "tmp", "exps")


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
