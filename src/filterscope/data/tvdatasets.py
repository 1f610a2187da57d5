"""Any ``torchvision.datasets`` class with a train and a test split, as uint8 tensors."""

from __future__ import annotations

import inspect
import sys
import urllib.error
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torchvision.datasets
from torchvision.transforms.v2 import functional as TF
from tqdm import tqdm

from filterscope.data.images import stack_pictures
from filterscope.errors import ConfigError, DataError


def dataset_class(name: Any) -> type:
    """The torchvision dataset class ``name`` (``data.dataset``) that has a train/test split."""
    cls = getattr(torchvision.datasets, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, torchvision.datasets.VisionDataset)):
        raise ConfigError(
            f"data.dataset={name!r} is not a torchvision.datasets class (e.g. SVHN, STL10, KMNIST)"
        )
    if not {"train", "split"} & set(inspect.signature(cls).parameters):
        raise ConfigError(f"data.dataset={name}: torchvision's {name} has no train/test split")
    return cls


def _open(cls: type, root: Path, split: str, download: bool) -> Any:
    params = inspect.signature(cls).parameters
    which = {"train": split == "train"} if "train" in params else {"split": split}
    try:
        return cls(str(root), download=download, **which)
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(
            f"cannot fetch torchvision's {cls.__name__} ({getattr(exc, 'reason', exc)}); if this"
            " machine is offline, set data.source to a folder already holding its files"
        ) from None
    except RuntimeError as exc:  # "Dataset not found or corrupted"
        raise DataError(f"torchvision's {cls.__name__} in {root}: {exc}") from None


def _item(dataset: Any, index: int, labels: list[int]) -> Any:
    """Item ``index`` of ``dataset`` as a PIL image; its label goes to ``labels``."""
    image, label = dataset[index]
    labels.append(int(label))
    return TF.to_pil_image(image) if isinstance(image, torch.Tensor) else image


def load_torchvision(
    name: Any,
    root: Path,
    download: bool,
    size: tuple[int, int] | None,
    channels: int | None,
    progress: bool = True,
) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], list[str]]:
    """Train and test splits of torchvision's ``name`` under ``root`` (fetched from its official
    source when ``download``) as uint8 tensors, and its class names."""
    cls = dataset_class(name)
    splits = {}
    classes: list[str] = []
    for split in ("train", "test"):
        dataset = _open(cls, Path(root), split, download)
        where = f"{cls.__name__} {split}"
        bar = tqdm(range(len(dataset)), desc=where, file=sys.stderr, disable=not progress)
        labels: list[int] = []
        pictures = ((partial(_item, dataset, i, labels), f"{where}[{i}]") for i in bar)
        images = stack_pictures(pictures, size, channels)
        splits[split] = (images, torch.tensor(labels, dtype=torch.int64))
        channels = int(images.shape[1])
        size = size or (int(images.shape[2]), int(images.shape[3]))
        found = getattr(dataset, "classes", None)
        classes = [str(c) for c in found] if found else classes
    count = max(int(labels.max()) for _, labels in splits.values()) + 1
    return splits, classes if len(classes) == count else [str(i) for i in range(count)]
