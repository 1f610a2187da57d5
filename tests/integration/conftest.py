"""Fixtures shared by the integration tests that run stages on MNIST."""

from __future__ import annotations

from pathlib import Path

import pytest

from filterscope.stages import download
from tests.helpers.configs import config


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    """A fresh folder per test module holding MNIST, downloaded from the mirror and prepared
    (``paths.data``), and an empty MLflow store (``mlflow.db``)."""
    root = tmp_path_factory.mktemp("mnist")
    download.run(config(root, "data=mnist", f"data.source={mirror_dir / 'mnist'}"))
    return root
