"""An image tree ``root/{train,test}/<class>/<image>`` read with torchvision's ImageFolder."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import torch
from PIL import Image
from torchvision.datasets import ImageFolder
from tqdm import tqdm

from filterscope.data.images import Splits, stack_pictures
from filterscope.errors import DataError

SPLITS = ("train", "test")


def _folder(root: Path, split: str) -> ImageFolder:
    path = root / split
    if not path.is_dir():
        raise DataError(
            f"image folder {path} is missing: data.format=imagefolder reads"
            f" {root}/train/<class>/<image> and {root}/test/<class>/<image>"
        )
    try:
        return ImageFolder(str(path), loader=str)
    except FileNotFoundError as exc:
        raise DataError(f"image folder {path}: {exc}") from None


def load_imagefolder(
    root: Path, size: tuple[int, int] | None, channels: int | None, progress: bool = True
) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], list[str]]:
    """Both splits of the tree as uint8 tensors, and the class names (the folder names, sorted:
    ImageFolder's numbering). Train and test must hold the same class folders."""
    folders = {split: _folder(Path(root), split) for split in SPLITS}
    train, test = folders["train"].classes, folders["test"].classes
    if train != test:
        only = sorted(set(train) ^ set(test))
        raise DataError(
            f"image folder {root}: train and test hold different class folders"
            f" ({', '.join(only) or 'in another order'} in one only)"
        )
    splits: Splits = {}
    for split, folder in folders.items():
        samples = tqdm(
            folder.samples, desc=f"{split} images", file=sys.stderr, disable=not progress
        )
        pictures = ((partial(Image.open, path), path) for path, _ in samples)
        images = stack_pictures(pictures, size, channels)
        labels = torch.tensor([label for _, label in folder.samples], dtype=torch.int64)
        splits[split] = (images, labels)
        channels = int(images.shape[1])  # the test split is converted like the train split
        size = size or (int(images.shape[2]), int(images.shape[3]))
    return dict(splits), list(train)
