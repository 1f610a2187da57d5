"""Config checks run before any work: every invalid key, with what is allowed, in one message.

Two rounds: :func:`value_problems` reads the config alone and imports nothing heavy, so a bad
value is refused before torch, torchvision and Lightning load (seconds); :func:`validate` adds
what needs them (the devices present, a dry build of the model and its cut points)."""

from __future__ import annotations

import difflib
import inspect
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from filterscope.data.registry import DATASETS, FORMATS, check_channels, parse_size
from filterscope.errors import ConfigError, DataError, FilterscopeError
from filterscope.schemas.loop import OPTIMIZERS, SCHEDULES
from filterscope.schemas.prune import FINETUNE, METHODS, PAIR_MODES, UNCLUSTERED

# Lightning strategies whose workers rerun the stage script (see filterscope.distributed).
_STRATEGIES = ("auto", "ddp")
_ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


# Trainer arguments filterscope sets itself, each with the key that controls it.
MANAGED = {
    "accelerator": "train.accelerator",
    "devices": "train.devices",
    "num_nodes": "train.num_nodes",
    "strategy": "train.strategy",
    "sync_batchnorm": "train.sync_batchnorm",
    "precision": "train.precision",
    "max_epochs": "<loop>.epochs",
    "min_epochs": "<loop>.epochs",
    "max_steps": "<loop>.epochs",
    "logger": "tracking",
    "callbacks": "<loop>.early_stop",
    "enable_checkpointing": "filterscope's resume checkpoints",
    "enable_progress_bar": "runtime.progress",
    "enable_model_summary": "filterscope",
    "default_root_dir": "paths.root",
    "num_sanity_val_steps": "filterscope",
}
# What ``<loop>.early_stop.monitor`` may watch, and which way is better.
MONITORED = {"val_acc": "max", "val_loss": "min", "train_acc": "max", "train_loss": "min"}


def _plain(options: Any) -> Any:
    if OmegaConf.is_config(options):
        return OmegaConf.to_container(options, resolve=True)
    return {} if options is None else options


def trainer_options(loop_cfg: Any) -> dict[str, Any]:
    """The loop's further Trainer options (``<loop>.trainer``) as a plain dict."""
    return dict(_plain(loop_cfg.get("trainer")))


def trainer_option_problems(section: str, options: Any) -> list[str]:
    """What is wrong with ``<section>.trainer``: keys the Trainer does not take (with the
    nearest names), keys filterscope sets itself (with the key to use), values Lightning
    refuses (it builds a CPU Trainer with them)."""
    options = _plain(options)
    if not isinstance(options, Mapping):
        return [f"{section}.trainer={options!r} (allowed: a mapping of Lightning Trainer options)"]
    if not options:  # the usual case: nothing to check, and no Lightning import (seconds)
        return []
    from lightning import Trainer

    accepted = [name for name in inspect.signature(Trainer.__init__).parameters if name != "self"]
    problems = []
    for key in options:
        if key in MANAGED:
            where = MANAGED[key].replace("<loop>", section)
            problems.append(f"{section}.trainer.{key} is set by filterscope (use {where})")
        elif key not in accepted:
            near = difflib.get_close_matches(str(key), accepted, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            problems.append(f"{section}.trainer.{key} is not a Lightning Trainer option{hint}")
    if problems:
        return problems
    quiet = logging.getLogger("lightning.pytorch")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # no "GPU available" lines for a check
    try:
        Trainer(**options, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    except Exception as exc:  # noqa: BLE001 - Lightning's own message says what is wrong
        return [f"{section}.trainer={dict(options)} is refused by Lightning: {exc}"]
    finally:
        quiet.setLevel(level)
    return []


def _number(value: Any) -> bool:
    """A finite int or float (not a bool, NaN or infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _integer(value: Any) -> bool:
    """An int that is not a bool (YAML ``true`` is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check(problems: list[str], ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        problems.append(f"{key}={value!r} (allowed: {allowed})")


def _loop_problems(section: str, cfg: Any) -> list[str]:
    """Checks shared by the train and probe loops."""
    p: list[str] = []
    lr, epochs, batch = cfg.lr, cfg.epochs, cfg.batch_size
    _check(p, _number(lr) and lr > 0, f"{section}.lr", lr, "a number > 0")
    _check(p, _integer(epochs) and epochs >= 1, f"{section}.epochs", epochs, "an integer >= 1")
    _check(p, _integer(batch) and batch >= 1, f"{section}.batch_size", batch, "an integer >= 1")
    wd = cfg.weight_decay
    _check(p, _number(wd) and wd >= 0, f"{section}.weight_decay", wd, "a number >= 0")
    m = cfg.momentum
    _check(p, _number(m) and 0 <= m < 1, f"{section}.momentum", m, "a number in [0, 1)")
    _check(
        p,
        cfg.optimizer in OPTIMIZERS,
        f"{section}.optimizer",
        cfg.optimizer,
        "|".join(OPTIMIZERS),
    )
    _check(p, cfg.schedule in SCHEDULES, f"{section}.schedule", cfg.schedule, "|".join(SCHEDULES))
    decay = cfg.lr_decay
    _check(p, _number(decay) and 0 < decay <= 1, f"{section}.lr_decay", decay, "a number in (0, 1]")
    shift = cfg.max_shift
    _check(p, _integer(shift) and shift >= 0, f"{section}.max_shift", shift, "an integer >= 0")
    p += trainer_option_problems(section, cfg.get("trainer"))
    return p


def _recipe_problems(train: Any) -> list[str]:
    """Checks of the training recipe's extras (the train loop alone has them)."""
    p: list[str] = []
    warmup, smoothing, ema = train.warmup, train.label_smoothing, train.ema
    _check(p, _number(warmup) and 0 < warmup < 1, "train.warmup", warmup, "a number in (0, 1)")
    ok = _number(smoothing) and 0 <= smoothing < 1
    _check(p, ok, "train.label_smoothing", smoothing, "a number in [0, 1)")
    ok = ema is None or (_number(ema) and 0 < ema < 1)
    _check(p, ok, "train.ema", ema, "null or a number in (0, 1)")
    cutout = train.cutout
    _check(p, _integer(cutout) and cutout >= 0, "train.cutout", cutout, "an integer >= 0")
    return p


def _early_stop_problems(train: Any, val_fraction: Any) -> list[str]:
    p: list[str] = []
    stop = train.early_stop
    monitor = stop.monitor
    _check(
        p,
        monitor is None or monitor in MONITORED,
        "train.early_stop.monitor",
        monitor,
        "null|" + "|".join(MONITORED),
    )
    if str(monitor).startswith("val_") and val_fraction == 0:
        p.append(
            f"train.early_stop.monitor={monitor!r} needs validation data (data.val_fraction > 0)"
        )
    patience = stop.patience
    ok = _integer(patience) and patience >= 1
    _check(p, ok, "train.early_stop.patience", patience, "an integer >= 1")
    delta = stop.min_delta
    _check(p, _number(delta) and delta >= 0, "train.early_stop.min_delta", delta, "a number >= 0")
    return p


def _device_problems(cfg: Any) -> list[str]:
    """Checks of the devices a training stage spreads over."""
    p: list[str] = []
    devices, nodes, strategy = cfg.devices, cfg.num_nodes, cfg.strategy
    listed = isinstance(devices, Sequence) and not isinstance(devices, str)
    ok = devices == "auto" or (_integer(devices) and devices >= 1)
    ok = ok or (listed and bool(devices) and all(_integer(d) and d >= 0 for d in devices))
    _check(p, ok, "train.devices", devices, "an integer >= 1, auto, or a list of device indices")
    _check(p, _integer(nodes) and nodes >= 1, "train.num_nodes", nodes, "an integer >= 1")
    _check(p, strategy in _STRATEGIES, "train.strategy", strategy, "|".join(_STRATEGIES))
    accelerator = cfg.accelerator
    _check(
        p,
        accelerator in _ACCELERATORS,
        "train.accelerator",
        accelerator,
        "|".join(_ACCELERATORS),
    )
    return p


def _present_device_problems(cfg: Any) -> list[str]:
    """An accelerator asked for that this machine does not have."""
    import torch

    p: list[str] = []
    accelerator = cfg.accelerator
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        p.append(
            f"train.accelerator={accelerator!r} (no CUDA GPU on this machine; use auto or cpu)"
        )
    if accelerator == "mps" and not torch.backends.mps.is_available():
        p.append("train.accelerator='mps' (no Apple GPU here; use auto or cpu)")
    return p


def resolve_layers(spec: Any, num_layers: int) -> list[int]:
    """``"all"`` or a list of 1-based conv layer indices -> sorted unique indices, checked."""
    if isinstance(spec, str) and spec == "all":
        return list(range(1, num_layers + 1))
    if _integer(spec):
        layers: Any = [spec]
    elif isinstance(spec, Sequence) and not isinstance(spec, str):  # a list or a ListConfig
        layers = list(spec)
    else:
        layers = spec  # None, a float, a mapping, another string: never valid
    ok = isinstance(layers, list) and bool(layers)
    if not ok or any(not _integer(v) or not 1 <= v <= num_layers for v in layers):
        raise ConfigError(
            f"probe.layers={layers!r} out of range: this model has cut points 1..{num_layers}"
            " (probe.cuts; or use 'all')"
        )
    return sorted(set(layers))


def _model_type_problems(model: Any, image_size: int) -> list[str]:
    """Integer options of the built-in models that are not integers (3.0, true, "16"), which the
    factories would reject with an unhelpful message or, for a bool, silently accept."""
    from filterscope.models.vgg import VGG_LAYOUTS

    p: list[str] = []
    name = model.get("name")
    kernel = model.get("kernel_size", 3)
    if name == "vgg":
        width = model.get("width", 1.0)
        _check(p, _number(width) and width > 0, "model.width", width, "a number > 0")
        depth = model.get("depth", 16)
        _check(p, _integer(depth), "model.depth", depth, f"one of {sorted(VGG_LAYOUTS)}")
        allowed = f"an odd size from 1 to {image_size}"
        _check(p, _integer(kernel), "model.kernel_size", kernel, allowed)
    elif name == "convnet":
        for key in ("filters", "hidden", "pool"):
            value = model.get(key, 1)
            _check(p, _integer(value) and value >= 1, f"model.{key}", value, "an integer >= 1")
        pool = model.get("pool", 2)
        most = f", at most {image_size - pool + 1}" if _integer(pool) else ""
        _check(p, _integer(kernel), "model.kernel_size", kernel, f"an integer >= 1{most}")
    return p


def _data_problems(data: Any) -> list[str]:
    """Checks of the keys that say which dataset and how it is converted."""
    p: list[str] = []
    fmt, name = data.get("format"), data.name
    _check(p, fmt in FORMATS, "data.format", fmt, "null|imagefolder|torchvision")
    if fmt is None:
        _check(p, name in DATASETS, "data.name", name, "|".join(sorted(DATASETS)))
    else:
        ok = isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9][\w.-]*", name) is not None
        _check(p, ok, "data.name", name, "a folder name: letters, digits, '_', '.', '-'")
    classes = data.get("classes")
    listed = isinstance(classes, Sequence) and not isinstance(classes, str)
    ok = classes is None or (listed and len(classes) >= 2)
    _check(p, ok, "data.classes", classes, "null or a list of 2 or more label names or indices")
    for check in (
        lambda: parse_size(data.get("resize")),
        lambda: check_channels(data.get("channels")),
    ):
        try:
            check()
        except ConfigError as exc:
            p.append(str(exc))
    return p


def _data_shape(cfg: Any) -> tuple[tuple[int, int, int] | None, int]:
    """The (C, H, W) images and number of labels the config's dataset will have once
    converted: from the registry for a registered dataset, else from its prepared folder
    (None before the download stage has run)."""
    from filterscope.data.prepared import read_meta

    data = cfg.data
    if data.get("format") is not None:
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


def _prune_problems(prune: Any) -> list[str]:
    """Checks of the prune stage's keys (which pairs apply is checked on the model, by the
    stage, before any work)."""
    p = _loop_problems("prune", prune)
    pairs = prune.pairs
    listed = isinstance(pairs, Sequence) and not isinstance(pairs, str)
    ok = pairs in PAIR_MODES if isinstance(pairs, str) else False
    ok = ok or (listed and all(_integer(v) and v >= 1 for v in pairs))
    allowed = f"{'|'.join(PAIR_MODES)} or a list of layers l >= 1, each the pair l -> l+1"
    _check(p, ok, "prune.pairs", pairs, allowed)
    _check(p, isinstance(prune.head, bool), "prune.head", prune.head, "true|false")
    unclustered = prune.unclustered
    allowed = "|".join(UNCLUSTERED)
    _check(p, unclustered in UNCLUSTERED, "prune.unclustered", unclustered, allowed)
    thetas = prune.thetas
    listed = isinstance(thetas, Sequence) and not isinstance(thetas, str)
    ok = listed and bool(thetas) and all(_number(t) and 0 <= t < 1 for t in thetas)
    ok = thetas is None or (ok and len(set(thetas)) == len(thetas))
    _check(p, ok, "prune.thetas", thetas, "null or a list of distinct numbers in [0, 1)")
    methods = prune.methods
    listed = isinstance(methods, Sequence) and not isinstance(methods, str)
    ok = listed and bool(methods) and all(isinstance(m, str) and m in METHODS for m in methods)
    ok = ok and len(set(methods)) == len(methods)
    allowed = f"a list of distinct names from {', '.join(METHODS)}"
    _check(p, ok, "prune.methods", methods, allowed)
    finetune = prune.finetune
    _check(p, finetune in FINETUNE, "prune.finetune", finetune, "|".join(FINETUNE))
    seed = prune.seed
    _check(p, _integer(seed) and seed >= 0, "prune.seed", seed, "an integer >= 0")
    return p


def value_problems(cfg: Any) -> list[str]:
    """Every invalid value of ``cfg`` that the config itself shows (no data read, no model
    built, nothing heavy imported)."""
    p = _data_problems(cfg.data)
    vf = cfg.data.val_fraction
    _check(p, _number(vf) and 0 <= vf < 1, "data.val_fraction", vf, "a number in [0, 1)")
    for key in ("train_limit", "test_limit"):
        v = cfg.data[key]
        _check(
            p,
            v is None or (_integer(v) and v >= 1),
            f"data.{key}",
            v,
            "null or an integer >= 1",
        )
    dropout = cfg.model.get("dropout", 0.0)
    _check(p, _number(dropout) and 0 <= dropout < 1, "model.dropout", dropout, "a number in [0, 1)")
    p += _loop_problems("train", cfg.train)
    p += _device_problems(cfg.train)
    p += _recipe_problems(cfg.train)
    p += _early_stop_problems(cfg.train, vf)
    p += _loop_problems("probe", cfg.probe)
    p += _prune_problems(cfg.prune)
    in_chain = cfg.chain.prune
    _check(p, isinstance(in_chain, bool), "chain.prune", in_chain, "true|false")
    threads = cfg.runtime.threads
    ok = threads is None or (_integer(threads) and threads >= 1)
    _check(p, ok, "runtime.threads", threads, "null or an integer >= 1")
    monitor = cfg.runtime.system_metrics
    _check(p, isinstance(monitor, bool), "runtime.system_metrics", monitor, "true|false")
    goal = cfg.get("objective")
    _check(p, goal is None or isinstance(goal, str), "objective", goal, "null or a result key")
    theta = cfg.analysis.theta
    _check(p, _number(theta) and 0 <= theta < 1, "analysis.theta", theta, "a number in [0, 1)")
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
    p += _present_device_problems(cfg.train)
    shape, num_classes = _data_shape(cfg) if not p else (None, 0)
    if shape is not None:
        p += _model_type_problems(cfg.model, shape[1])
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
