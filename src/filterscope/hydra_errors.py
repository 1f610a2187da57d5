"""Hydra's composition errors (an unknown key, a missing group option, a bad override) and keys
added with ``+`` that no stage reads, as the one-line :class:`ConfigError`, naming the nearest
valid key."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from filterscope.errors import ConfigError

_UNKNOWN = re.compile(r"Could not override '([^']+)'")


def config_keys(cfg: Any, prefix: str = "") -> Iterator[str]:
    """Every dotted key of a nested mapping, inner nodes included (``train``, ``train.lr``)."""
    if isinstance(cfg, Mapping):
        for key, value in cfg.items():
            name = f"{prefix}{key}"
            yield name
            yield from config_keys(value, f"{name}.")


def _group_overrides(conf: Path, overrides: Sequence[str]) -> list[str]:
    """The overrides that pick a config group option (``model=convnet``), sweeps left out."""
    picked = []
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep and "," not in value and key.isidentifier() and (conf / key).is_dir():
            picked.append(override)
    return picked


def _known_keys(conf: Path, argv: Sequence[str]) -> list[str]:
    """The keys of the config this command line composes, as far as they can be found."""
    from hydra import compose, initialize_config_dir
    from hydra._internal.utils import get_args_parser

    args, _ = get_args_parser().parse_known_args(list(argv))
    primary = Path(args.config_dir or conf) / f"{args.config_name or 'config'}.yaml"
    if args.config_name and primary.is_file():  # e.g. DVC's `--config-name params`
        loaded = OmegaConf.load(primary)
        if isinstance(loaded, DictConfig) and "defaults" not in loaded:
            return list(config_keys(OmegaConf.to_container(loaded)))
    try:
        with initialize_config_dir(str(conf), version_base="1.3"):
            cfg = compose("config", _group_overrides(conf, args.overrides))
    except Exception:  # noqa: BLE001 - a suggestion is a courtesy; the error stands without it
        return []
    return list(config_keys(OmegaConf.to_container(cfg)))


def _nearest(key: str, known: Sequence[str], prefix: str = "") -> str:
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"did you mean {prefix}{near[0]}?" if near else "no key of that name."


def added_keys(cfg: Mapping[str, Any], conf: Path) -> list[str]:
    """The keys of a one-option group (its folder under ``conf`` holds one file: ``train``,
    ``probe``, ...) that its file does not define. Hydra lets ``+train.lrr=0.1`` add one, and no
    stage would read it: a typo that would otherwise pass silently."""
    problems = []
    for folder in sorted(f for f in conf.iterdir() if f.is_dir() and f.name in cfg):
        files = sorted(folder.glob("*.yaml"))
        group = folder.name
        if len(files) != 1 or not isinstance(cfg[group], Mapping):
            continue
        known = [k for k in OmegaConf.load(files[0]) if k != "defaults"]
        for key in (k for k in cfg[group] if k not in known):
            problems.append(
                f"unknown key {group}.{key} ({_nearest(key, known, f'{group}.')} The {group}"
                f" keys are those of conf/{group}/{files[0].name})"
            )
    return problems


def refuse_added_keys(cfg: Mapping[str, Any], conf: Path) -> None:
    """Raise :class:`ConfigError` naming every key :func:`added_keys` finds."""
    if problems := added_keys(cfg, conf):
        raise ConfigError("invalid config: " + "; ".join(problems))


def composition_error(exc: Exception, conf: Path, argv: Sequence[str]) -> ConfigError:
    """The one-line error for Hydra's ``exc`` raised while composing ``argv``'s config."""
    found = _UNKNOWN.search(str(exc))
    if not found:  # a missing group option lists the choices, then Hydra's search path
        return ConfigError(f"invalid config: {str(exc).split('Config search path')[0]}")
    key = found.group(1)
    hint = _nearest(key, _known_keys(conf, argv))
    return ConfigError(
        f"invalid config: unknown key {key} ({hint} A new key is added with +{key}=...)"
    )
