"""A trained model to analyse instead of training one: ``model.checkpoint`` (a state dict, or a
checkpoint holding one) or ``model.weights`` (torchvision's pretrained weights by name)."""

from __future__ import annotations

import hashlib
import urllib.error
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from filterscope.errors import ConfigError
from filterscope.models.zoo import weights_enum
from filterscope.torchfiles import load_torch

_HOLDERS = ("state_dict", "model_state_dict", "model")  # where checkpoints keep the weights


def import_source(model_cfg: Mapping[str, Any]) -> str | None:
    """``checkpoint`` or ``weights`` when the config imports a trained model, else None."""
    if model_cfg.get("checkpoint") and model_cfg.get("weights"):
        raise ConfigError("give model.checkpoint or model.weights, not both")
    return next((key for key in ("checkpoint", "weights") if model_cfg.get(key)), None)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _tensors(obj: Any) -> bool:
    tensors = isinstance(obj, Mapping) and all(isinstance(v, Tensor) for v in obj.values())
    return tensors and bool(obj)


def state_dict_in(obj: Any, where: str) -> dict[str, Tensor]:
    """The state dict ``obj`` is, or holds under ``state_dict``/``model_state_dict``/``model``."""
    found = [obj] + [obj.get(key) for key in _HOLDERS] if isinstance(obj, Mapping) else [obj]
    for candidate in found:
        if _tensors(candidate):
            return dict(candidate)
    raise ConfigError(
        f"{where} holds no state dict (a mapping of names to tensors, itself or under"
        f" {', '.join(repr(k) for k in _HOLDERS)})"
    )


def _strip_prefixes(state: dict[str, Tensor], wanted: set[str]) -> dict[str, Tensor]:
    """Drop a prefix every key shares (``module.``, ``model.``, a LightningModule's attribute)
    while the keys miss the model's."""
    while state and not wanted & state.keys():
        prefix = next(iter(state)).split(".")[0] + "."
        if not all(key.startswith(prefix) for key in state):
            break
        state = {key.removeprefix(prefix): value for key, value in state.items()}
    return state


def _head_keys(model: nn.Module) -> set[str]:
    """The state-dict keys of the model's last linear layer (its classifier head)."""
    linear = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    return {f"{linear[-1]}.{p}" for p in ("weight", "bias")} if linear else set()


def load_into(model: nn.Module, state: dict[str, Tensor], where: str) -> str:
    """Load ``state`` into ``model``; a head of another number of labels stays new. Returns
    ``imported`` or ``new`` (the head)."""
    own = model.state_dict()
    state = _strip_prefixes(state, set(own))
    head = _head_keys(model)
    clash = sorted(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape)
    missing = sorted(own.keys() - state.keys())
    unexpected = sorted(state.keys() - own.keys())
    new_head = bool(clash) and set(clash) <= head
    if new_head:
        state = {k: v for k, v in state.items() if k not in head}
        missing = sorted(set(missing) - head)
    found = {
        "with other shapes": [] if new_head else clash,
        "missing": missing,
        "unexpected": unexpected,
    }
    problems = [f"{len(keys)} {what} (e.g. {keys[0]})" for what, keys in found.items() if keys]
    if problems:
        raise ConfigError(
            f"{where} does not fit the configured model: {'; '.join(problems)} of"
            f" {len(own)} tensors; check model.name and its options (width, cifar_stem, ...)"
        )
    model.load_state_dict(state, strict=not new_head)
    return "new" if new_head else "imported"


def import_trained(model: nn.Module, model_cfg: Mapping[str, Any]) -> dict[str, str]:
    """Load the configured checkpoint or torchvision weights into ``model``; returns what was
    imported (recorded in the backbone checkpoint and the MLflow run)."""
    source = import_source(model_cfg)
    if source == "checkpoint":
        path = Path(str(model_cfg["checkpoint"])).expanduser()
        where = f"model.checkpoint {path}"
        obj = load_torch(path, "model.checkpoint", None)
        head = load_into(model, state_dict_in(obj, where), where)
        return {"checkpoint": str(path), "sha256": sha256(path), "head": head}
    enum = weights_enum(str(model_cfg["name"]), str(model_cfg["weights"]))
    try:
        state = enum.get_state_dict(progress=False, check_hash=True)
    except (urllib.error.URLError, OSError) as exc:
        raise ConfigError(
            f"cannot fetch torchvision weights {enum} from {enum.url}"
            f" ({getattr(exc, 'reason', exc)}); on an offline machine put that file in"
            " $TORCH_HOME/hub/checkpoints/ or give model.checkpoint=<file>"
        ) from None
    head = load_into(model, dict(state), f"torchvision weights {enum}")
    return {"weights": str(enum), "url": enum.url, "head": head}
