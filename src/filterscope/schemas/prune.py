"""The prune group's choices and checks."""

from __future__ import annotations

from typing import Any, Literal, get_args

from filterscope.schemas.loop import loop_problems
from filterscope.schemas.rules import check, integer, listed, number

PairMode = Literal["deepest", "all"]
"""``prune.pairs`` by name (else a list of layers)."""
Method = Literal["afcc", "random", "magnitude", "dense"]
Finetune = Literal["pruned", "all"]
Unclustered = Literal["drop", "keep"]
"""What a filter without any cluster does: ``drop`` its connections or ``keep`` them all."""
PAIR_MODES: tuple[PairMode, ...] = get_args(PairMode)
METHODS: tuple[Method, ...] = get_args(Method)
FINETUNE: tuple[Finetune, ...] = get_args(Finetune)
UNCLUSTERED: tuple[Unclustered, ...] = get_args(Unclustered)


def prune_problems(prune: Any) -> list[str]:
    """Every invalid value of the prune group (which pairs apply is checked on the model, by
    the stage, before any work)."""
    p = loop_problems("prune", prune)
    pairs = prune.pairs
    ok = pairs in PAIR_MODES if isinstance(pairs, str) else False
    ok = ok or (listed(pairs) and all(integer(v) and v >= 1 for v in pairs))
    allowed = f"{'|'.join(PAIR_MODES)} or a list of layers l >= 1, each the pair l -> l+1"
    check(p, ok, "prune.pairs", pairs, allowed)
    check(p, isinstance(prune.head, bool), "prune.head", prune.head, "true|false")
    unclustered = prune.unclustered
    allowed = "|".join(UNCLUSTERED)
    check(p, unclustered in UNCLUSTERED, "prune.unclustered", unclustered, allowed)
    thetas = prune.thetas
    ok = listed(thetas) and bool(thetas) and all(number(t) and 0 <= t < 1 for t in thetas)
    ok = thetas is None or (ok and len(set(thetas)) == len(thetas))
    check(p, ok, "prune.thetas", thetas, "null or a list of distinct numbers in [0, 1)")
    methods = prune.methods
    ok = listed(methods) and bool(methods)
    ok = ok and all(isinstance(m, str) and m in METHODS for m in methods)
    ok = ok and len(set(methods)) == len(methods)
    check(p, ok, "prune.methods", methods, f"a list of distinct names from {', '.join(METHODS)}")
    finetune = prune.finetune
    check(p, finetune in FINETUNE, "prune.finetune", finetune, "|".join(FINETUNE))
    seed = prune.seed
    check(p, integer(seed) and seed >= 0, "prune.seed", seed, "an integer >= 0")
    return p
