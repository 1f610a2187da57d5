"""What the stages hand on: the trained backbone and the probes (each checked against the config
that reads it back), and the pruned networks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import nn

from filterscope.errors import ConfigError
from filterscope.models import CutModel, build_model
from filterscope.models.cuts import pool_grid, resolve_nodes
from filterscope.models.imports import sha256
from filterscope.schemas.probe import resolve_layers
from filterscope.torchfiles import load_torch

BACKBONE_FILE = "backbone.pt"
PROBES_FILE = "probes.pt"
PRUNED_FILE = "afcc.pt"


def _model_record(cfg: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint says of the network it holds: its model config and dataset, the image
    shape and the classes (``meta``: the prepared data's or an earlier checkpoint's)."""
    return {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "dataset": cfg.data.name,
        "image_shape": list(meta["image_shape"]),
        "classes": list(meta["classes"]),
    }


def save_backbone(
    path: Path,
    cfg: Any,
    backbone: nn.Module,
    meta: dict[str, Any],
    test: dict[str, float],
    imported: dict[str, str] | None = None,
) -> None:
    """The checkpoint: model config, dataset, weights and the ``test`` metrics they score; an
    imported model also records where it came from (``imported``)."""
    torch.save(
        {
            **_model_record(cfg, meta),
            "test": {k: float(v) for k, v in test.items()},
            "imported": imported,
            "state_dict": backbone.state_dict(),
        },
        path,
    )


def save_pruned(
    path: Path, cfg: Any, meta: dict[str, Any], sites: dict[str, str], networks: dict[str, Any]
) -> None:
    """The prune stage's networks: per AFCC arm its theta, accuracy, masks and weights, with the
    model they prune and each site's module (``sites``)."""
    torch.save({**_model_record(cfg, meta), "sites": sites, "networks": networks}, path)


def load_backbone(cfg: Any) -> tuple[nn.Module, dict[str, Any]]:
    """The trained backbone; refuses a checkpoint made for another model or dataset, or one
    imported from a ``model.checkpoint`` file that has changed since."""
    path = Path(cfg.paths.backbone) / BACKBONE_FILE
    ckpt = load_torch(path, "backbone checkpoint", "train")
    wanted = OmegaConf.to_container(cfg.model, resolve=True)
    if ckpt.get("model") != wanted or ckpt.get("dataset") != cfg.data.name:
        raise ConfigError(
            f"backbone checkpoint {path} was trained for model={ckpt.get('model')} on"
            f" {ckpt.get('dataset')}, but the config asks model={wanted} on {cfg.data.name};"
            " rerun the train stage"
        )
    imported = ckpt.get("imported") or {}
    source = Path(imported.get("checkpoint", ""))
    if imported.get("checkpoint") and source.is_file() and sha256(source) != imported["sha256"]:
        raise ConfigError(
            f"model.checkpoint {source} has changed since the train stage imported it (DVC does"
            " not track that file); import it again: dvc repro --force --single-item train"
        )
    backbone = build_model(cfg.model, ckpt["image_shape"], len(ckpt["classes"]))
    backbone.load_state_dict(ckpt["state_dict"])
    return backbone.eval(), ckpt


def probed_model(cfg: Any) -> tuple[CutModel, dict[str, Any], list[int]]:
    """The trained backbone with its cut points (``probe.cuts``, ``probe.pool``), its checkpoint
    and the probed layers (``probe.layers``)."""
    backbone, ckpt = load_backbone(cfg)
    model = CutModel(backbone, resolve_nodes(backbone, cfg.probe.cuts), pool_grid(cfg.probe.pool))
    return model, ckpt, resolve_layers(cfg.probe.layers, model.num_layers)


def probe_variant(model: CutModel) -> str:
    """How the probes read their cut points, as every output records it."""
    if model.pool is None:
        return "exact: the full C·H·W cut point (docs/method.md)"
    return f"pooled: each cut point averaged to at most {model.pool[0]}x{model.pool[1]}"


def save_probes(
    path: Path,
    model: CutModel,
    layers: list[int],
    weights: dict,
    biases: dict,
    accuracy: dict,
) -> None:
    """The probes of ``layers``: their cut points and pooling, weights, biases and accuracy."""
    torch.save(
        {
            "layers": layers,
            "nodes": model.node_names(layers),
            "pool": model.pool_record(),
            "weights": weights,
            "biases": biases,
            "accuracy": accuracy,
        },
        path,
    )


def load_probes(cfg: Any, model: CutModel, layers: list[int]) -> dict[str, Any]:
    """The trained probes; refuses probes of other layers, cut points or pooling than the
    config asks for."""
    path = Path(cfg.paths.probes) / PROBES_FILE
    probes = load_torch(path, "probe weights", "probe")
    nodes, pool = model.node_names(layers), model.pool_record()
    found = (probes.get("layers"), probes.get("nodes"), probes.get("pool"))
    if found != (layers, nodes, pool):
        raise ConfigError(
            f"probe weights {path} hold layers {found[0]} at {found[1]} (pool {found[2]}), the"
            f" config asks {layers} at {nodes} (pool {pool}); rerun the probe stage"
        )
    return probes
