"""Property tests of config validation over the real conf/: a ConfigError naming every bad key.

An independent oracle (the documented allowed ranges, written out here) decides which keys are
invalid; ``validate`` must then raise a one-line ``invalid config: ...`` naming each of them with
its allowed range, name no valid key, and pass every config the oracle calls valid. Model building
(kernel size, depth, probe layers) is checked only when every other key is valid.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from omegaconf import DictConfig, OmegaConf

from filterscope.config import validate
from filterscope.data.registry import DATASETS
from filterscope.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"
PREFIX = "invalid config: "
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the oracle: documented ranges, independent of filterscope.config ------------------------


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


Rule = tuple[Callable[[Any], bool], str]
LOOP_RULES: dict[str, Rule] = {
    "lr": (lambda v: _num(v) and v > 0, "a number > 0"),
    "epochs": (lambda v: _int(v) and v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: _int(v) and v >= 1, "an integer >= 1"),
    "weight_decay": (lambda v: _num(v) and v >= 0, "a number >= 0"),
    "momentum": (lambda v: _num(v) and 0 <= v < 1, "a number in [0, 1)"),
    "optimizer": (lambda v: v in ("sgd", "adam", "adamw"), "sgd|adam|adamw"),
    "schedule": (
        lambda v: v in ("cosine", "exponential", "constant", "onecycle"),
        "cosine|exponential|constant|onecycle",
    ),
    "lr_decay": (lambda v: _num(v) and 0 < v <= 1, "a number in (0, 1]"),
    "max_shift": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
}
_LIMIT: Rule = (lambda v: v is None or (_int(v) and v >= 1), "null or an integer >= 1")
_FRACTION: Rule = (lambda v: _num(v) and 0 <= v < 1, "a number in [0, 1)")
RULES: dict[str, Rule] = {
    "data.name": (lambda v: isinstance(v, str) and v in DATASETS, "|".join(sorted(DATASETS))),
    "data.val_fraction": _FRACTION,
    "data.train_limit": _LIMIT,
    "data.test_limit": _LIMIT,
    "model.dropout": _FRACTION,
    **{
        f"{loop}.{key}": rule
        for loop in ("train", "probe", "prune")
        for key, rule in LOOP_RULES.items()
    },
    "analysis.theta": _FRACTION,
    "prune.pairs": (
        lambda v: (
            v in ("deepest", "all") or (isinstance(v, list) and all(_int(x) and x >= 1 for x in v))
        ),
        "deepest|all or a list of layers l >= 1, each the pair l -> l+1",
    ),
    "prune.head": (lambda v: isinstance(v, bool), "true|false"),
    "prune.unclustered": (lambda v: v in ("drop", "keep"), "drop|keep"),
    "prune.thetas": (
        lambda v: (
            v is None
            or (
                isinstance(v, list)
                and bool(v)
                and all(_num(t) and 0 <= t < 1 for t in v)
                and len(set(v)) == len(v)
            )
        ),
        "null or a list of distinct numbers in [0, 1)",
    ),
    "prune.methods": (
        lambda v: (
            isinstance(v, list)
            and bool(v)
            and all(m in ("afcc", "random", "magnitude", "dense") for m in v)
            and len(set(v)) == len(v)
        ),
        "a list of distinct names from afcc, random, magnitude, dense",
    ),
    "prune.finetune": (lambda v: v in ("pruned", "all"), "pruned|all"),
    "prune.seed": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
    "chain.prune": (lambda v: isinstance(v, bool), "true|false"),
    "runtime.system_metrics": (lambda v: isinstance(v, bool), "true|false"),
    "train.warmup": (lambda v: _num(v) and 0 < v < 1, "a number in (0, 1)"),
    "train.label_smoothing": _FRACTION,
    "train.ema": (lambda v: v is None or (_num(v) and 0 < v < 1), "null or a number in (0, 1)"),
    "train.cutout": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
}
MODEL_KEYS = ("model.kernel_size", "model.depth", "probe.layers")
IMAGE_SIZE = {"mnist": 28, "fashion_mnist": 28, "cifar10": 32, "cifar100": 32}
VGG_DEPTHS = "[11, 13, 16, 19]"


def _plain(v: Any) -> Any:
    return OmegaConf.to_container(v) if OmegaConf.is_config(v) else v


def _get(cfg: DictConfig, key: str) -> Any:
    return _plain(OmegaConf.select(cfg, key))


def _model_problems(cfg: DictConfig) -> dict[str, str]:
    """Model-building problems (key -> a fragment of the allowed range), in the checked order:
    a depth that is not a VGG depth and a non-integer kernel size first, then the first failure
    of kernel, layers."""
    size = IMAGE_SIZE[cfg.data.name]
    vgg = cfg.model.name == "vgg"
    kernel, depth = _get(cfg, "model.kernel_size"), _get(cfg, "model.depth")
    kernel_range = f"odd size from 1 to {size}" if vgg else f"at most {size - 1}"  # 2x2 pool
    types = {}
    if vgg and not (_int(depth) and depth in (11, 13, 16, 19)):
        types["model.depth"] = VGG_DEPTHS
    if not _int(kernel):
        types["model.kernel_size"] = kernel_range
    if types:
        return types
    kernel_ok = kernel % 2 == 1 and 1 <= kernel <= size if vgg else 1 <= kernel <= size - 1
    if not kernel_ok:
        return {"model.kernel_size": kernel_range}
    n = depth - 3 if vgg else 1
    layers = _get(cfg, "probe.layers")

    def in_range(v: Any) -> bool:
        return _int(v) and 1 <= v <= n

    ok = (
        layers == "all"
        or in_range(layers)
        or (isinstance(layers, list) and bool(layers) and all(map(in_range, layers)))
    )
    return {} if ok else {"probe.layers": f"cut points 1..{n}"}


def check_against_oracle(cfg: DictConfig) -> None:
    """``validate(cfg)`` agrees with the oracle: pass, or one line naming exactly the bad keys."""
    bad = {key: rule[1] for key, rule in RULES.items() if not rule[0](_get(cfg, key))}
    model = {} if bad else _model_problems(cfg)
    event("bad keys" if bad else f"bad model keys: {sorted(model)}" if model else "valid")
    try:
        validate(cfg)
    except ConfigError as exc:
        message = str(exc)
    else:
        assert not bad and not model, f"validate passed but the oracle rejects {bad or model}"
        return
    assert message.startswith(PREFIX) and len(message.splitlines()) == 1, message
    assert bad or model, f"oracle accepts the config, validate says: {message}"
    for key, allowed in bad.items():
        assert f"{key}={_get(cfg, key)!r} (allowed: {allowed})" in message, (key, message)
    for key, fragment in model.items():
        assert f"{key}=" in message and fragment in message, (key, message)
    for key in RULES.keys() - bad.keys():
        assert f"{key}=" not in message, (key, message)
    for key in set(MODEL_KEYS) - model.keys():
        assert f"{key}=" not in message, (key, message)  # model checked only when the rest is ok


# --- configs and values ---------------------------------------------------------------------


@functools.cache
def _composed(overrides: tuple[str, ...]) -> DictConfig:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", list(overrides))


def base(model: str, data: str) -> DictConfig:
    """A fresh copy of the real composition; VGG at 1/16 width so building it stays cheap."""
    cfg = copy.deepcopy(_composed((f"model={model}", f"data={data}")))
    if model == "vgg":
        cfg.model.width = 0.0625
    return cfg


COMBOS = st.sampled_from([(m, d) for m in ("vgg", "convnet") for d in ("mnist", "cifar10")])
WORDS = ["sgd", "adam", "cosine", "exponential", "constant", "all", "rmsprop", "", "deepest"]
WORDS += ["drop", "keep", "pruned", "afcc", "onecycle", *DATASETS]
# No "$" (interpolation), "?" (MISSING) or "=" (would fake a key name in the message).
TEXT = st.text(alphabet="abcxyz019 .-_[]'\"\n", max_size=6)
SCALARS = st.one_of(
    st.integers(-3, 6),
    st.integers(),
    st.floats(-2, 2),
    st.floats(),
    st.sampled_from([0.0, -0.0, 1.0, 0.999, 1e-12, math.nan, math.inf, -math.inf]),
    st.booleans(),
    st.none(),
    st.sampled_from(WORDS),
    TEXT,
)
ANY = st.one_of(
    SCALARS,
    st.lists(st.one_of(st.integers(-2, 20), st.booleans(), st.floats(0, 3), TEXT), max_size=3),
    st.dictionaries(st.text("abk", min_size=1, max_size=2), st.integers(), max_size=2),
)
KERNELS = st.one_of(st.sampled_from([1, 3, 5, 7]), st.integers(-2, 36), ANY)
DEPTHS = st.one_of(st.sampled_from([11, 13, 16, 19]), st.integers(0, 25), ANY)
LAYERS = st.one_of(
    st.just("all"),
    st.integers(-1, 17),
    st.lists(st.integers(1, 8), min_size=1, max_size=4),
    st.lists(st.integers(-1, 17), max_size=4),
    ANY,
)


def _set(cfg: DictConfig, values: dict[str, Any]) -> None:
    for key, value in values.items():
        OmegaConf.update(cfg, key, value, merge=False)


@FUZZ
@given(combo=COMBOS, values=st.dictionaries(st.sampled_from(sorted(RULES)), ANY, max_size=5))
def test_any_values_of_the_validated_keys(combo: tuple[str, str], values: dict[str, Any]) -> None:
    cfg = base(*combo)
    _set(cfg, values)
    check_against_oracle(cfg)


@FUZZ
@given(
    combo=COMBOS,
    name=st.sampled_from(sorted(DATASETS)),
    kernel=KERNELS,
    depth=DEPTHS,
    layers=LAYERS,
    other=st.one_of(st.just({}), st.dictionaries(st.sampled_from(sorted(RULES)), ANY, max_size=1)),
)
def test_model_building_keys(
    combo: tuple[str, str],
    name: str,
    kernel: Any,
    depth: Any,
    layers: Any,
    other: dict[str, Any],
) -> None:
    cfg = base(*combo)
    values = {"data.name": name, "model.kernel_size": kernel, "probe.layers": layers, **other}
    if combo[0] == "vgg":
        values["model.depth"] = depth
    _set(cfg, values)
    check_against_oracle(cfg)


TOKENS = [
    "0", "1", "-1", "3", "7", "28", "0.5", "1.0", "1e-3", "-0.5", "1e400", "nan", "inf", "-inf",
    "true", "false", "null", "abc", "'7'", "[1,2]", "[]", "[0.5]", "{a:1}", *WORDS[:-1],
]  # fmt: skip
OVERRIDE_KEYS = sorted(RULES) + ["model.kernel_size", "probe.layers"]


@settings(max_examples=40, deadline=None)
@given(
    combo=COMBOS,
    picks=st.dictionaries(st.sampled_from(OVERRIDE_KEYS), st.sampled_from(TOKENS), max_size=4),
)
def test_hydra_override_strings(combo: tuple[str, str], picks: dict[str, str]) -> None:
    """The same properties through Hydra's own parsing of command-line overrides."""
    model, data = combo
    overrides = [f"model={model}", f"data={data}", *(f"{k}={v}" for k, v in picks.items())]
    if model == "vgg":
        overrides.append("model.width=0.0625")
    defaults = _composed((f"model={model}", f"data={data}"))
    into_list = [
        k for k, v in picks.items() if v.startswith("{") and isinstance(_get(defaults, k), list)
    ]
    try:
        cfg = _composed(tuple(sorted(overrides)))
    except ConfigCompositionException as exc:  # Hydra's own refusal, before validate() runs
        assert into_list and "Cannot merge DictConfig with ListConfig" in str(exc.__cause__), exc
        return
    assert not into_list, f"Hydra merged a mapping into the list at {into_list}"
    check_against_oracle(cfg)
