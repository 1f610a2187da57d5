"""The config keys code really reads while a block runs, by full dotted key: every leaf read
(``cfg.key``, ``cfg["key"]``, ``cfg.get("key")`` giving a value, not a node) and every node
read whole (``OmegaConf.to_container(cfg.model)``). Reads by the output-neutral modules (the
config checks, tracking, the command line; tests/helpers/imports.py) are left out: they read
keys and change no output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from filterscope import config
from tests.helpers.imports import OUTPUT_NEUTRAL, REPO

NEUTRAL = tuple(str(REPO / module) for module in OUTPUT_NEUTRAL)


@dataclass
class Reads:
    """What a block read: ``leaves`` one by one, ``wholes`` as whole nodes."""

    leaves: set[str] = field(default_factory=set)
    wholes: set[str] = field(default_factory=set)
    checking: int = 0

    def keep(self) -> bool:
        """A read to keep: not inside the config checks, not by an output-neutral module."""
        return not self.checking and not sys._getframe(2).f_code.co_filename.startswith(NEUTRAL)


@contextmanager
def recorded_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    """Within the block, every read of a ``DictConfig`` that :meth:`Reads.keep` keeps."""
    reads = Reads()

    def leaf_read(original: Any) -> Any:
        def read(self: DictConfig, key: Any, *args: Any, **kwargs: Any) -> Any:
            value = original(self, key, *args, **kwargs)
            if isinstance(key, str) and not isinstance(value, DictConfig) and reads.keep():
                reads.leaves.add(str(self._get_full_key(key)))
            return value

        return read

    def whole_read(original: Any) -> Any:
        def read(cfg: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(cfg, DictConfig) and cfg._get_full_key(None) and reads.keep():
                reads.wholes.add(str(cfg._get_full_key(None)))
            return original(cfg, *args, **kwargs)

        return staticmethod(read)

    def unrecorded(check: Any) -> Any:
        def run(cfg: Any) -> Any:
            reads.checking += 1
            try:
                return check(cfg)
            finally:
                reads.checking -= 1

        return run

    with monkeypatch.context() as patch:
        for name in ("__getattr__", "__getitem__", "get"):
            patch.setattr(DictConfig, name, leaf_read(getattr(DictConfig, name)))
        patch.setattr(OmegaConf, "to_container", whole_read(OmegaConf.to_container))
        patch.setattr(config, "validate", unrecorded(config.validate))
        yield reads
