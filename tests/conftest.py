"""Shared fixtures: the dataset mirror (real data) and the repository root."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from filterscope.cli import freeze_imports

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collecting imported (torch, Lightning, MLflow) stays out of the garbage collector's
    full collections, as in a stage process."""
    freeze_imports()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked integration first, the rest after, each group in collection order.
    `make test` hands whole modules to its two workers in this order (xdist's
    --no-loadscope-reorder), so the short unit modules fill the end of the run and neither
    worker waits idle while the other finishes a long module."""
    items.sort(key=lambda item: item.get_closest_marker("integration") is None)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The offline dataset mirror: ``$FILTERSCOPE_MIRROR`` or ``../shared/datasets`` (`make test`
    sets it to what `make test-data` fetched where neither exists)."""
    path = Path(os.environ.get("FILTERSCOPE_MIRROR", REPO_ROOT.parent / "shared" / "datasets"))
    if not (path / "mnist").is_dir():
        pytest.fail(
            f"dataset mirror not found at {path}; set FILTERSCOPE_MIRROR, or run `make test-data`"
            " (the official files) and set it to the folder that prints"
        )
    return path


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test left open, so none outlives it (where pyplot is loaded)."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
