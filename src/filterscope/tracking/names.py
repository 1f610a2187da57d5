"""What a run is called in the MLflow UI: its stage, and what sets it apart from its siblings.

A sweep job is named by its swept values (``train lr=0.01 dropout=0.5 seed=1``), the sweep's
parent by its axes (``sweep lr x dropout (mnist-convnet)``), a pipeline stage by its stage,
dataset and model, plus what ``dvc exp run -S`` changed (``train-mnist-convnet lr=0.01``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser


def _parsed(overrides: Iterable[str]) -> list:
    return OverridesParser.create().parse_overrides(list(overrides))


def swept_keys(
    overrides: Iterable[str], sweeper_params: Mapping[str, object] | None = None
) -> list[str]:
    """The keys a sweep varies, in the sweep's order: those of its overrides with several values
    (``train.lr=0.01,0.001``, ``range(...)``, ``choice(...)``, ``interval(...)``), then those of
    the sweeper's ``params`` (Hydra's ``hydra.sweeper.params``: a grid, or Optuna's space)."""
    keys = [o.key_or_group for o in _parsed(overrides) if o.is_sweep_override()]
    keys += [str(k) for k in (sweeper_params or {}) if str(k) not in keys]
    return keys


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key's last part (``train.lr`` -> ``lr``) where no other of ``keys`` ends in
    the same part, else the whole key."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {key: end if last.count(end) == 1 else key for key, end in zip(keys, last, strict=True)}


def _label(values: Mapping[str, str]) -> str:
    short = short_names(list(values))
    return " ".join(f"{short[key]}={value}" for key, value in values.items())


def job_name(stage: str, overrides: Iterable[str], swept: Sequence[str]) -> str:
    """A sweep job's run name: ``stage`` and the job's values of the ``swept`` keys, as its
    ``overrides`` (Hydra's ``overrides.task`` of the job) spell them."""
    given = {o.key_or_group: o.get_value_element_as_str() for o in _parsed(overrides)}
    values = {key: given[key] for key in swept if key in given}
    return f"{stage} {_label(values)}".rstrip()


def sweep_name(script: str, swept: Sequence[str], dataset: str, model: str) -> str:
    """A sweep's parent run name: its axes and what it trains on, after the script's name
    unless that is ``train`` (``chain sweep lr x dropout (mnist-convnet)``)."""
    axes = " x ".join(short_names(swept).values()) or "(no swept key)"
    kind = "sweep" if script == "train" else f"{script} sweep"
    return f"{kind} {axes} ({dataset}-{model})"


def stage_name(stage: str, dataset: str, model: str, changed: Mapping[str, str]) -> str:
    """A pipeline stage's run name: stage, dataset and model, then the ``changed`` params (what
    a DVC experiment set) with their values."""
    return f"{stage}-{dataset}-{model} {_label(changed)}".rstrip()


def changed_params(base: Mapping[str, str], now: Mapping[str, str]) -> dict[str, str]:
    """The flat params of ``now`` whose value differs from ``base`` (or that ``base`` lacks),
    in ``now``'s order."""
    return {key: value for key, value in now.items() if base.get(key) != value}
