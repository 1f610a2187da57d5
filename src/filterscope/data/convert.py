"""Parse the original dataset formats (gzip idx files, CIFAR python-pickle archives) into tensors.

Images come out as contiguous uint8 ``(N, C, H, W)`` tensors, labels as int64 ``(N,)``.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import zlib
from collections.abc import Callable, Sequence
from math import prod
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from filterscope.data.registry import DatasetSpec
from filterscope.errors import ConfigError, DataError

SPLITS = ("train", "test")

_IDX_MAGIC_UBYTE = 0x08


# CIFAR archives: member folder, members per split, meta member, its class-name key, label key.
_CIFAR_LAYOUT: dict[str, dict[str, Any]] = {
    "cifar10": {
        "root": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "names_key": "label_names",
        "labels_key": "labels",
    },
    "cifar100": {
        "root": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "names_key": "fine_label_names",
        "labels_key": "fine_labels",
    },
}

_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
}


def load_raw(spec: DatasetSpec, paths: Sequence[Path]) -> dict[str, tuple[Tensor, Tensor]]:
    """Map 'train' and 'test' to (uint8 images (N, C, H, W), int64 labels (N,)) read from ``paths``.

    ``paths`` are the dataset's fetched files: the four gzip idx files (told apart by their
    ``train``/``t10k`` and ``images``/``labels`` names) or the one CIFAR archive.
    """
    if spec.format == "idx":
        splits = _load_idx(spec, paths)
    else:
        layout = _cifar_layout(spec)
        archive = _one_archive(spec, paths)
        wanted = {m for split in SPLITS for m in layout[split]}
        members = _read_members(archive, layout["root"], wanted, required=True)
        splits = {
            split: _cifar_split(spec, archive, members, layout[split], layout["labels_key"])
            for split in SPLITS
        }
    for split, (images, labels) in splits.items():
        if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < len(spec.classes):
            raise DataError(
                f"{spec.name} {split} labels span {int(labels.min())}..{int(labels.max())}, "
                f"outside 0..{len(spec.classes) - 1}"
            )
        if tuple(images.shape[1:]) != spec.image_shape:
            raise DataError(
                f"{spec.name} {split} images have shape {tuple(images.shape[1:])}, "
                f"expected {spec.image_shape}"
            )
    return splits


def class_names(spec: DatasetSpec, paths: Sequence[Path]) -> tuple[str, ...]:
    """The class names the files carry (CIFAR archives' meta member), else the spec's."""
    if spec.format == "idx":
        return spec.classes
    layout = _cifar_layout(spec)
    archive = _one_archive(spec, paths)
    members = _read_members(archive, layout["root"], {layout["meta"]}, required=False)
    if layout["meta"] not in members:
        return spec.classes
    where = f"{layout['root']}/{layout['meta']} in {archive}"
    names = _unpickle(members[layout["meta"]], where).get(layout["names_key"])
    if names is None:
        return spec.classes
    names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    if len(names) != len(spec.classes):
        raise DataError(
            f"{where} lists {len(names)} classes, expected {len(spec.classes)} for {spec.name}"
        )
    return names


def _cifar_layout(spec: DatasetSpec) -> dict[str, Any]:
    try:
        return _CIFAR_LAYOUT[spec.format]
    except KeyError:
        raise ConfigError(f"dataset {spec.name!r} has unknown format {spec.format!r}") from None


def _one_archive(spec: DatasetSpec, paths: Sequence[Path]) -> Path:
    if len(paths) != 1:
        raise ConfigError(
            f"data.files: {spec.name} expects exactly one archive, got {len(paths)} files"
        )
    return Path(paths[0])


def _load_idx(spec: DatasetSpec, paths: Sequence[Path]) -> dict[str, tuple[Tensor, Tensor]]:
    found: dict[tuple[str, str], Path] = {}
    for path in map(Path, paths):
        split = {"train": "train", "t10k": "test", "test": "test"}.get(path.name.split("-")[0])
        kind = next((k for k in ("images", "labels") if k in path.name), None)
        if split and kind:
            found[(split, kind)] = path
    splits = {}
    for split in SPLITS:
        for kind in ("images", "labels"):
            if (split, kind) not in found:
                raise DataError(
                    f"no {split} {kind} file among {[Path(p).name for p in paths]} for {spec.name}"
                    " (expected names like train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)"
                )
        images_path, labels_path = found[(split, "images")], found[(split, "labels")]
        images = _read_idx(images_path, ndim=3)
        labels = _read_idx(labels_path, ndim=1)
        if len(images) != len(labels):
            raise DataError(
                f"{images_path.name} holds {len(images)} images but {labels_path.name} "
                f"holds {len(labels)} labels"
            )
        splits[split] = (images.reshape(len(images), 1, *images.shape[1:]), labels.long())
    return splits


def _read_idx(path: Path, ndim: int) -> Tensor:
    """One gzip idx file of unsigned bytes with ``ndim`` dimensions, checked against its header."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt or truncated gzip file {path}: {exc}") from None
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:2] != b"\0\0" or raw[2] != _IDX_MAGIC_UBYTE or raw[3] != ndim:
        raise DataError(
            f"{path} is not an idx file of unsigned bytes with {ndim} dimension(s) "
            f"(magic number {raw[:4].hex() or 'missing'})"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if len(raw) - header != prod(dims):
        raise DataError(
            f"{path} holds {len(raw) - header} data bytes, its header announces {prod(dims)} "
            f"(shape {dims}): truncated or corrupt"
        )
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=header).reshape(dims).copy())


def _read_members(archive: Path, root: str, wanted: set[str], required: bool) -> dict[str, bytes]:
    """The bytes of the ``root/<name>`` members for ``wanted`` names, in one pass over the tar."""
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r|*") as tar:
            for member in tar:
                folder, _, name = member.name.removeprefix("./").rpartition("/")
                if folder == root and name in wanted and member.isfile():
                    members[name] = tar.extractfile(member).read()  # type: ignore[union-attr]
                    if members.keys() == wanted:
                        break
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"corrupt or truncated archive {archive}: {exc}") from None
    missing = sorted(wanted - members.keys())
    if required and missing:
        raise DataError(f"archive {archive} has no member {root}/{missing[0]}")
    return members


def _cifar_split(
    spec: DatasetSpec,
    archive: Path,
    members: dict[str, bytes],
    names: list[str],
    labels_key: str,
) -> tuple[Tensor, Tensor]:
    images, labels = [], []
    for name in names:
        where = f"{name} in {archive}"
        batch = _unpickle(members[name], where)
        if "data" not in batch or labels_key not in batch:
            raise DataError(f"{where} lacks the key 'data' or {labels_key!r}")
        data, batch_labels = np.asarray(batch["data"]), np.asarray(batch[labels_key])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != prod(spec.image_shape):
            raise DataError(
                f"{where}: 'data' is {data.dtype} {data.shape}, expected uint8 (N, "
                f"{prod(spec.image_shape)})"
            )
        if batch_labels.shape != (len(data),):
            raise DataError(f"{where} has {len(data)} images but {batch_labels.size} labels")
        images.append(data)
        labels.append(batch_labels.astype(np.int64))
    data = np.concatenate(images).reshape(-1, *spec.image_shape)
    return torch.from_numpy(data), torch.from_numpy(np.concatenate(labels))


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: no other code can run."""

    def find_class(self, module: str, name: str) -> Callable[..., Any]:
        if (module, name) in _PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(blob: bytes, where: str) -> dict[str, Any]:
    """A CIFAR pickle (written by Python 2 or 3) as a dict with str keys."""
    try:
        obj = _ArrayUnpickler(io.BytesIO(blob), encoding="latin1").load()
    except Exception as exc:  # any malformed pickle surfaces as a DataError
        raise DataError(f"cannot unpickle {where}: {exc}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where} holds a {type(obj).__name__}, expected a dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}
