"""Random label subsets for a study over the number of labels K: the Hydra sweep of
``data.classes`` that ``make labels`` runs (``python -m filterscope.data.subsets --help``)."""

from __future__ import annotations

import argparse
import itertools
import math
import random
from collections.abc import Sequence

from filterscope.errors import ConfigError


def label_subsets(classes: int, ks: Sequence[int], per_k: int, seed: int = 0) -> list[list[int]]:
    """For each K in ``ks``, ``per_k`` different K-label subsets of ``0..classes-1`` (every one
    where there are no more), each sorted, drawn by a generator seeded with ``seed``."""
    if per_k < 1:
        raise ConfigError(f"subsets per K: {per_k} (allowed: an integer >= 1)")
    rng = random.Random(seed)
    subsets: list[list[int]] = []
    for k in ks:
        if not 2 <= k <= classes:
            raise ConfigError(f"K={k} labels of {classes} (allowed: 2..{classes})")
        if math.comb(classes, k) <= per_k:
            subsets += [list(c) for c in itertools.combinations(range(classes), k)]
            continue
        drawn: list[list[int]] = []
        while len(drawn) < per_k:
            subset = sorted(rng.sample(range(classes), k))
            if subset not in drawn:
                drawn.append(subset)
        subsets += drawn
    return subsets


def sweep_override(subsets: Sequence[Sequence[int]]) -> str:
    """The Hydra sweep over ``subsets``: ``data.classes=[0,3],[1,2,7],...``."""
    return "data.classes=" + ",".join(f"[{','.join(map(str, s))}]" for s in subsets)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=10, help="labels of the dataset")
    parser.add_argument("--k", default="2,3,4,5,6,7,8,9,10", help="the numbers of labels K")
    parser.add_argument("--per-k", type=int, default=3, help="random subsets per K")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw")
    args = parser.parse_args(argv)
    ks = [int(k) for k in args.k.split(",")]
    print(sweep_override(label_subsets(args.classes, ks, args.per_k, args.seed)))


if __name__ == "__main__":
    main()
