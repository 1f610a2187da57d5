"""Shared fixtures: the dataset mirror (real data) and the repository root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from filterscope.cli import freeze_imports

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collecting imported (torch, Lightning, MLflow) stays out of the garbage collector's
    full collections, as in a stage process."""
    freeze_imports()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The offline dataset mirror: ``$FILTERSCOPE_MIRROR`` or ``../shared/datasets``."""
    path = Path(os.environ.get("FILTERSCOPE_MIRROR", REPO_ROOT.parent / "shared" / "datasets"))
    if not (path / "mnist").is_dir():
        pytest.fail(f"dataset mirror not found at {path}; set FILTERSCOPE_MIRROR")
    return path
