"""The extract stage's files: one ``layer_NN.npz`` of field matrices per probed layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from filterscope.errors import ConfigError


def fields_file(layer: int) -> str:
    return f"layer_{layer:02d}.npz"


def load_fields(directory: Path, layer: int, node: str) -> dict[str, np.ndarray]:
    """Layer ``layer``'s extracted fields; refused if they were cut at another node."""
    path = directory / fields_file(layer)
    if not path.is_file():
        raise ConfigError(f"field matrices {path} are missing; run the extract stage first")
    with np.load(path) as npz:
        fields = {key: npz[key] for key in npz.files}
    if str(fields.get("node")) != node:
        raise ConfigError(
            f"field matrices {path} were cut at {fields.get('node')}, the config asks {node};"
            " rerun the extract stage"
        )
    return fields
