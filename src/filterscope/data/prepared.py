"""The prepared dataset folder: ``<split>.pt`` (uint8 images, int64 labels) and ``meta.json``.

The folder is written whole into a temporary sibling and renamed into place, so a crash never
leaves a half-written one; readers check every file against ``meta.json``, which records the
SHA-256 of each split's converted arrays, and the ``data`` options it was converted with: a
reader asking for other options (another label subset, size or channel count) is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import torch
from omegaconf import OmegaConf
from torch import Tensor

from filterscope.data.registry import DatasetSpec
from filterscope.errors import DataError

META_FILE = "meta.json"
_META_KEYS = (
    "name",
    "classes",
    "image_shape",
    "hflip",
    "counts",
    "class_counts",
    "sha256",
    "sources",
)
_RERUN = "re-run the download stage to rebuild it"
# The data options that change the converted arrays.
CONVERSION_KEYS = ("format", "dataset", "resize", "channels", "classes", "hflip")


def conversion_options(data_cfg: Any) -> dict[str, Any]:
    """``data_cfg``'s :data:`CONVERSION_KEYS` as plain JSON values (missing keys: None); only
    those keys are read."""
    picked = {key: data_cfg.get(key) for key in CONVERSION_KEYS}
    plain = {
        k: OmegaConf.to_container(v) if OmegaConf.is_config(v) else v for k, v in picked.items()
    }
    return json.loads(json.dumps(plain))


def check_options(meta: Mapping[str, Any], data_cfg: Any, prepared_dir: Path) -> None:
    """Refuse a prepared folder converted with other options than ``data_cfg``'s (a folder
    written before options were recorded is taken as it is)."""
    recorded = meta.get("options")
    if recorded is None:
        return
    wanted = conversion_options(data_cfg)
    differ = [
        f"data.{key}={recorded.get(key)!r} there, {value!r} here"
        for key, value in wanted.items()
        if recorded.get(key) != value
    ]
    if differ:
        raise DataError(
            f"{prepared_dir} was prepared with other data options ({'; '.join(differ)}); {_RERUN}"
            " (a sweep over these options: give each job its own paths.prepared)"
        )


def is_prepared(prepared_dir: Path, data_cfg: Any) -> bool:
    """Whether ``prepared_dir`` holds the dataset converted as ``data_cfg`` asks."""
    try:
        check_options(read_meta(prepared_dir), data_cfg, prepared_dir)
    except DataError:
        return False
    return True


def arrays_sha256(images: Tensor, labels: Tensor) -> str:
    """SHA-256 of a split's converted arrays: the images' bytes, then the labels'."""
    digest = hashlib.sha256(_compact(images).numpy().data)
    digest.update(_compact(labels).numpy().data)
    return digest.hexdigest()


def write_prepared(
    out_dir: Path,
    spec: DatasetSpec,
    splits: Mapping[str, tuple[Tensor, Tensor]],
    sources: dict[str, str],
    options: Mapping[str, Any] | None = None,
) -> None:
    """Write ``<split>.pt`` per split and ``meta.json`` to ``out_dir``, replacing it atomically.

    ``sources`` maps each original file name to its md5, ``options`` are the data options of
    the conversion (:func:`conversion_options`); both are recorded in the meta.
    """
    out_dir = Path(out_dir)
    for split, (images, labels) in splits.items():
        if problem := _split_problem(images, labels, spec.image_shape, len(spec.classes)):
            raise DataError(f"{spec.name} {split} split: {problem}")
    meta = {
        "name": spec.name,
        "classes": list(spec.classes),
        "image_shape": list(spec.image_shape),
        "hflip": bool(spec.hflip),
        "counts": {split: len(labels) for split, (_, labels) in splits.items()},
        "class_counts": {
            split: torch.bincount(labels.cpu(), minlength=len(spec.classes)).tolist()
            for split, (_, labels) in splits.items()
        },
        "sha256": {split: arrays_sha256(*split_arrays) for split, split_arrays in splits.items()},
        "sources": dict(sources),
    }
    if options is not None:
        meta["options"] = conversion_options(options)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.{secrets.token_hex(6)}.tmp")
    tmp.mkdir()
    old = tmp.with_suffix(".old")
    try:
        for split, (images, labels) in splits.items():
            with open(tmp / f"{split}.pt", "wb") as f:
                torch.save({"images": _compact(images), "labels": _compact(labels)}, f)
                _sync(f)
        with open(tmp / META_FILE, "w") as f:
            f.write(json.dumps(meta, indent=2) + "\n")
            _sync(f)
        if out_dir.exists():
            os.replace(out_dir, old)
        try:
            os.replace(tmp, out_dir)
        except OSError:
            if old.exists():
                os.replace(old, out_dir)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def read_meta(prepared_dir: Path) -> dict[str, Any]:
    """The ``meta.json`` of a prepared dataset folder."""
    path = Path(prepared_dir) / META_FILE
    if not path.is_file():
        raise DataError(f"prepared dataset file missing: {path}; {_RERUN}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {path} ({exc}); {_RERUN}") from None
    missing = [key for key in _META_KEYS if not isinstance(meta, dict) or key not in meta]
    if missing:
        raise DataError(f"{path} lacks the key {missing[0]!r}; {_RERUN}")
    return meta


def read_split(prepared_dir: Path, split: str) -> tuple[Tensor, Tensor]:
    """The (uint8 images (N, C, H, W), int64 labels (N,)) of one split, checked against the meta."""
    meta = read_meta(prepared_dir)
    if split not in meta["counts"]:
        raise DataError(
            f"{Path(prepared_dir) / META_FILE} has no split {split!r} "
            f"(has: {', '.join(meta['counts'])})"
        )
    path = Path(prepared_dir) / f"{split}.pt"
    if not path.is_file():
        raise DataError(f"prepared dataset file missing: {path}; {_RERUN}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a cut-short or foreign file fails in many ways
        first_line = (str(exc).splitlines() or [""])[0][:200]
        raise DataError(
            f"cannot load {path} ({type(exc).__name__}: {first_line}); {_RERUN}"
        ) from None
    if not (isinstance(data, dict) and {"images", "labels"} <= data.keys()):
        raise DataError(f"{path} does not hold an 'images'/'labels' dict; {_RERUN}")
    images, labels = data["images"], data["labels"]
    if problem := _split_problem(images, labels, meta["image_shape"], len(meta["classes"])):
        raise DataError(f"{path}: {problem}; {_RERUN}")
    if len(labels) != meta["counts"][split]:
        raise DataError(
            f"{path} holds {len(labels)} samples but {META_FILE} says "
            f"{meta['counts'][split]}; {_RERUN}"
        )
    if arrays_sha256(images, labels) != meta["sha256"].get(split):
        raise DataError(
            f"{path} does not match the SHA-256 {META_FILE} records for its arrays (changed or"
            f" corrupted since it was written); {_RERUN}"
        )
    return images, labels


def _split_problem(
    images: Any, labels: Any, image_shape: Sequence[int], num_classes: int
) -> str | None:
    """What is wrong with an (images, labels) pair, or None."""
    if not (isinstance(images, Tensor) and images.dtype == torch.uint8 and images.ndim == 4):
        return "images must be a uint8 (N, C, H, W) tensor"
    if tuple(images.shape[1:]) != tuple(image_shape):
        return f"images have shape {tuple(images.shape[1:])}, expected {tuple(image_shape)}"
    if not (isinstance(labels, Tensor) and labels.dtype == torch.int64 and labels.ndim == 1):
        return "labels must be an int64 (N,) tensor"
    if len(images) != len(labels):
        return f"{len(images)} images but {len(labels)} labels"
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        return f"labels span {int(labels.min())}..{int(labels.max())}, outside 0..{num_classes - 1}"
    return None


def _compact(t: Tensor) -> Tensor:
    """``t`` on the CPU, contiguous and owning exactly its storage (torch.save writes it whole)."""
    t = t.detach().cpu().contiguous()
    return t if t.untyped_storage().nbytes() == t.nbytes else t.clone()


def _sync(f: IO[Any]) -> None:
    f.flush()
    os.fsync(f.fileno())
