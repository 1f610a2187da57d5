"""Torch files read safely: ``weights_only=True``, with one-line errors for what is refused."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from filterscope.errors import ConfigError


def load_torch(path: Path, what: str, stage: str | None) -> Any:
    """A torch file, unpickled with ``weights_only=True``: plain containers and tensors only, so
    a file crafted to run code when unpickled (say, pulled from a shared DVC remote) is refused
    instead of executed. ``stage`` writes the file (None: the user's own file)."""
    redo = f"rerun the {stage} stage" if stage else "check the file"
    if not path.is_file():
        first = f"run the {stage} stage first (dvc repro)" if stage else "check the path"
        raise ConfigError(f"{what} {path} is missing; {first}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not zipfile.is_zipfile(path):  # not a torch file at all: corrupt, cut short
            raise ConfigError(f"{what} {path} is unreadable; {redo}") from None
        lines = [line.strip() for line in str(exc).splitlines()]
        why = next((line for line in lines if line.startswith(("Trying", "Unsupported"))), "")
        raise ConfigError(
            f"{what} {path} is refused: it holds more than tensors and plain values"
            f" ({why.rstrip('.') or 'not loadable with weights_only=True'}); {redo} rather than"
            " load a file you do not trust"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a corrupt file of any kind gets the same advice
        raise ConfigError(f"{what} {path} is unreadable ({exc}); {redo}") from exc
