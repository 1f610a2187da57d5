"""Config checks run before any work: every invalid key, with what is allowed, in one message.

Each group's checks live with the group (:mod:`filterscope.schemas`); this module gathers them.
Two rounds: :func:`value_problems` reads the config alone and imports nothing heavy, so a bad
value is refused before torch, torchvision and Lightning load (seconds); :func:`validate` adds
what needs them (the devices present, a dry build of the model and its cut points). A check
refuses a config or lets it through and never changes what a stage computes, so DVC does not
track this module (docs/pipeline.md, "What DVC tracks")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from filterscope.data.registry import DATASETS, check_channels, parse_size
from filterscope.errors import ConfigError, DataError, FilterscopeError
from filterscope.schemas.analysis import analysis_problems
from filterscope.schemas.data import data_problems
from filterscope.schemas.model import model_problems, model_type_problems
from filterscope.schemas.probe import probe_problems, resolve_layers
from filterscope.schemas.prune import prune_problems
from filterscope.schemas.rules import check
from filterscope.schemas.runtime import runtime_problems
from filterscope.schemas.train import present_device_problems, train_problems


def _registered(data: Any) -> bool:
    """Whether ``data`` names a registered dataset (else a prepared folder of the user's)."""
    return data.get("format") is None


def _data_shape(cfg: Any) -> tuple[tuple[int, int, int] | None, int]:
    """The (C, H, W) images and number of labels the config's dataset will have once
    converted: from the registry for a registered dataset, else from its prepared folder
    (None before the download stage has run)."""
    data = cfg.data
    if not _registered(data):
        from filterscope.data.prepared import read_meta

        try:
            meta = read_meta(Path(cfg.paths.prepared))
        except DataError:
            return None, 0
        return tuple(meta["image_shape"]), len(meta["classes"])
    spec = DATASETS[data.name]
    channels = check_channels(data.get("channels")) or spec.image_shape[0]
    size = parse_size(data.get("resize")) or spec.image_shape[1:]
    classes = data.get("classes")
    return (channels, *size), len(classes) if classes else len(spec.classes)


def value_problems(cfg: Any) -> list[str]:
    """Every invalid value of ``cfg`` that the config itself shows (no data read, no model
    built, nothing heavy imported)."""
    p = data_problems(cfg.data)
    p += model_problems(cfg.model)
    p += train_problems(cfg.train, cfg.data.val_fraction)
    p += probe_problems(cfg.probe)
    p += prune_problems(cfg.prune)
    in_chain = cfg.chain.prune
    check(p, isinstance(in_chain, bool), "chain.prune", in_chain, "true|false")
    p += runtime_problems(cfg.runtime)
    goal = cfg.get("objective")
    check(p, goal is None or isinstance(goal, str), "objective", goal, "null or a result key")
    p += analysis_problems(cfg.analysis)
    if not p and _registered(cfg.data):  # its image size is known before any download
        p += model_type_problems(cfg.model, _data_shape(cfg)[0][1])
    return p


def refuse_bad_values(cfg: Any) -> None:
    """Raise :class:`ConfigError` naming every problem :func:`value_problems` finds."""
    problems = value_problems(cfg)
    if problems:
        raise ConfigError("invalid config: " + "; ".join(problems))


def validate(cfg: Any) -> None:
    """Raise :class:`ConfigError` naming every invalid value of ``cfg``: its values, then the
    devices it asks for and a dry build of its model and cut points (a prepared dataset's
    shape is read from its ``meta.json``, no other data)."""
    p = value_problems(cfg)
    p += present_device_problems(cfg.train)
    shape, num_classes = _data_shape(cfg) if not p else (None, 0)
    if shape is not None:
        if not _registered(cfg.data):  # else checked with the values
            p += model_type_problems(cfg.model, shape[1])
        if not p:
            from filterscope.data.batches import normalization
            from filterscope.models import CutModel, build_model
            from filterscope.models.cuts import pool_grid, resolve_nodes

            try:
                normalization(cfg.model, shape[0])
                pool_grid(cfg.probe.pool)
                model = build_model(cfg.model, shape, num_classes)
                nodes = resolve_nodes(model, cfg.probe.cuts)
                resolve_layers(cfg.probe.layers, CutModel(model, nodes).num_layers)
            except FilterscopeError as exc:
                p.append(str(exc))
    if p:
        raise ConfigError("invalid config: " + "; ".join(p))


def checked(run: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap a stage's ``run(cfg)`` so the config is validated before anything else happens."""

    def wrapper(cfg: Any) -> Any:
        validate(cfg)
        return run(cfg)

    wrapper.__name__ = run.__name__
    wrapper.__doc__ = run.__doc__
    return wrapper
