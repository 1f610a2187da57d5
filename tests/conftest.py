"""Shared fixtures: the dataset mirror (real data) and the repository root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


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
