"""Acquire a dataset: fetch and verify its original files, convert them, write the prepared folder.

Only the download stage runs this; the stages after it read the prepared folder
(:mod:`filterscope.data.prepared`) and so do not depend on this code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from filterscope.data.convert import class_names, load_raw
from filterscope.data.fetch import fetch_files
from filterscope.data.prepared import read_meta, write_prepared
from filterscope.data.registry import get_spec, resolve_files


def prepare_dataset(
    name: str,
    source: str | None,
    files: Sequence[Mapping[str, Any] | Sequence[str]] | None,
    raw_dir: Path,
    out_dir: Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Fetch, verify, convert and write dataset ``name``; return its meta.

    ``source`` and ``files`` are ``data.source`` and ``data.files`` (None: the official ones).
    The original files are kept in ``raw_dir/<name>/`` (MNIST and Fashion-MNIST share file names).
    """
    spec = get_spec(name)
    wanted = resolve_files(spec, files)
    paths = fetch_files(source, spec, wanted, Path(raw_dir) / spec.name, progress=progress)
    splits = load_raw(spec, paths)
    spec = replace(spec, classes=class_names(spec, paths))
    write_prepared(out_dir, spec, splits, dict(wanted))
    return read_meta(out_dir)
