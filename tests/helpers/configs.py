"""Configs for tests: the project's own, composed by Hydra with every output under a temporary
folder, and a small probe section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[2] / "conf"


def config(tmp: Path, *overrides: str, data: Path | None = None) -> Any:
    """The composed config with every output (and the data, unless ``data``) under ``tmp``."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(
            "config",
            [
                f"paths.root={tmp}",
                f"paths.data={data or tmp}",
                f"tracking.uri=sqlite:///{tmp}/mlflow.db",
                *overrides,
            ],
        )


# A probe section for building heads directly, one short epoch.
PROBE = OmegaConf.create(
    {
        "lr": 0.01,
        "momentum": 0.975,
        "nesterov": True,
        "weight_decay": 1e-3,
        "lr_decay": 0.975,
        "bias": False,
        "optimizer": "sgd",
        "schedule": "exponential",
        "epochs": 1,
    }
)
