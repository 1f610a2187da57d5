"""Acquire a dataset: fetch and verify its original files (or read an image tree, or a
torchvision dataset), convert them, write the prepared folder.

Only the download stage runs this; the stages after it read the prepared folder
(:mod:`filterscope.data.prepared`) and so do not depend on this code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from filterscope.data.convert import class_names, load_raw
from filterscope.data.fetch import fetch_files
from filterscope.data.imagefolder import load_imagefolder
from filterscope.data.images import convert, select_classes
from filterscope.data.prepared import read_meta, write_prepared
from filterscope.data.registry import (
    FORMATS,
    DatasetSpec,
    check_channels,
    get_spec,
    parse_size,
    resolve_files,
)
from filterscope.data.tvdatasets import load_torchvision
from filterscope.errors import ConfigError


def prepare_dataset(
    name: str,
    source: str | None,
    files: Sequence[Mapping[str, Any] | Sequence[str]] | None,
    raw_dir: Path,
    out_dir: Path,
    progress: bool = True,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fetch, verify, convert and write dataset ``name``; return its meta.

    ``source`` and ``files`` are ``data.source`` and ``data.files`` (None: the official ones).
    The original files are kept in ``raw_dir/<name>/`` (MNIST and Fashion-MNIST share file names).
    ``options`` holds the other ``data`` keys: ``format`` (None: the registered dataset
    ``name``; ``imagefolder``; ``torchvision`` with ``dataset``), ``resize``, ``channels``,
    ``classes`` and ``hflip``.
    """
    options = dict(options or {})
    fmt = options.get("format")
    size, channels = parse_size(options.get("resize")), check_channels(options.get("channels"))
    raw = Path(raw_dir) / name
    registered = get_spec(name) if fmt is None else None
    if fmt == "imagefolder":
        if source is None:
            raise ConfigError("data.format=imagefolder needs data.source=<the image tree>")
        splits, names = load_imagefolder(Path(source).expanduser(), size, channels, progress)
        sources = {"imagefolder": str(source)}
    elif fmt == "torchvision":
        root = raw if source is None else Path(source).expanduser()
        dataset = options.get("dataset")
        splits, names = load_torchvision(dataset, root, source is None, size, channels, progress)
        sources = {"torchvision": str(dataset)}
    elif registered is not None:
        wanted = resolve_files(registered, files)
        paths = fetch_files(source, registered, wanted, raw, progress=progress)
        splits = {
            split: (convert(images, size, channels), labels)
            for split, (images, labels) in load_raw(registered, paths).items()
        }
        names, sources = list(class_names(registered, paths)), dict(wanted)
    else:
        raise ConfigError(f"data.format={fmt!r} (allowed: {FORMATS})")
    splits, names = select_classes(splits, names, options.get("classes"))
    hflip = options.get("hflip")
    if hflip is None and registered is not None:
        hflip = registered.hflip  # the registered dataset's own
    images = next(iter(splits.values()))[0]
    spec = DatasetSpec(
        name=name,
        format=registered.format if registered is not None else str(fmt),
        official_url="",
        files=(),
        classes=tuple(names),
        image_shape=tuple(int(v) for v in images.shape[1:]),
        hflip=bool(hflip),
    )
    write_prepared(out_dir, spec, splits, sources, options)
    return read_meta(out_dir)
