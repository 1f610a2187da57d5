"""The prune group's choices."""

from __future__ import annotations

from typing import Literal, get_args

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
