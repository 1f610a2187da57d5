"""The tracking store every stage and DVC experiment shares."""

from __future__ import annotations

from pathlib import Path

import pytest

from filterscope.tracking.params import flatten
from filterscope.tracking.store import default_artifact_root, project_root, tracking_uri


def test_project_root_is_found_from_below_and_through_dvc_temp_workspaces(tmp_path: Path) -> None:
    (tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc" / "sub").mkdir(parents=True)
    (tmp_path / "pipeline").mkdir()
    assert project_root(tmp_path / "pipeline") == tmp_path
    assert project_root(tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc" / "sub") == tmp_path


def test_tracking_uri_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".dvc").mkdir()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(None, tmp_path) == f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(None, tmp_path) == "http://127.0.0.1:5000"
    assert tracking_uri("sqlite:////x/y.db", tmp_path) == "sqlite:////x/y.db"


def test_artifacts_sit_beside_an_embedded_store_only(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    assert default_artifact_root("sqlite:///a.db", tmp_path) == (tmp_path / "mlartifacts").as_uri()
    store = tmp_path / "elsewhere" / "m.db"  # a test's or a user's own store: not the project's
    assert default_artifact_root(f"sqlite:///{store}") == (store.parent / "mlartifacts").as_uri()
    assert default_artifact_root("http://server:5000", tmp_path) is None


def test_flatten() -> None:
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {
        "a.b": "1",
        "a.c": "[1, 2]",
        "d": "None",
    }
