"""Conversions applied once when a dataset is prepared: PIL images to uint8 tensors, resize,
channels, a subset of labels."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from filterscope.errors import ConfigError, DataError

Splits = Mapping[str, tuple[Tensor, Tensor]]
"""Each split's (uint8 images (N, C, H, W), int64 labels (N,))."""


def convert(images: Tensor, size: tuple[int, int] | None, channels: int | None) -> Tensor:
    """uint8 ``(N, C, H, W)`` images resized (antialiased bilinear) and converted to
    ``channels`` (ITU-R 601 luma for grayscale, repeated gray for RGB)."""
    if channels is not None and images.shape[1] != channels:
        images = TF.rgb_to_grayscale(images) if channels == 1 else images.expand(-1, 3, -1, -1)
    if size is not None and tuple(images.shape[2:]) != size:
        images = TF.resize(images, list(size), antialias=True)
    return images.contiguous()


def select_classes(
    splits: Splits, names: Sequence[str], wanted: Sequence[str | int] | None
) -> tuple[dict[str, tuple[Tensor, Tensor]], list[str]]:
    """Keep the images of the ``wanted`` labels (names or indices, in that order) and number
    them 0..K-1 in that order; ``wanted`` None keeps every label."""
    if wanted is None:
        return dict(splits), list(names)
    if isinstance(wanted, str) or not isinstance(wanted, Sequence) or len(wanted) < 2:
        raise ConfigError(f"data.classes={wanted!r} (allowed: null or a list of 2+ labels)")
    indices = []
    for label in wanted:
        if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(names):
            indices.append(label)
        elif isinstance(label, str) and label in names:
            indices.append(list(names).index(label))
        else:
            near = difflib.get_close_matches(str(label), list(names), n=3)
            hint = f" (did you mean {', '.join(near)}?)" if near else f" (labels: {list(names)})"
            raise ConfigError(f"data.classes: the dataset has no label {label!r}{hint}")
    if len(set(indices)) != len(indices):
        raise ConfigError(f"data.classes={list(wanted)} names a label twice")
    lookup = torch.full((len(names),), -1, dtype=torch.int64)
    lookup[torch.tensor(indices)] = torch.arange(len(indices))
    kept = {}
    for split, (images, labels) in splits.items():
        new = lookup[labels]
        mask = new >= 0
        kept[split] = (images[mask].contiguous(), new[mask])
    return kept, [names[i] for i in indices]


_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def stack_pictures(
    pictures: Iterable[tuple[Callable[[], Image.Image], str]],
    size: tuple[int, int] | None,
    channels: int | None,
) -> Tensor:
    """uint8 ``(N, C, H, W)`` from PIL images, each opened by its callable and named by its
    ``where`` in errors. Without ``channels``, the first image decides (grayscale: 1, else RGB:
    3) and every image is converted to it; without ``size`` every image must have the first's."""
    out: list[Tensor] = []
    first = ""
    mode = None if channels is None else ("L" if channels == 1 else "RGB")
    for open_picture, where in pictures:
        try:
            picture = open_picture()
            picture.load()
        except (OSError, SyntaxError, ValueError) as exc:  # PIL's errors for unreadable files
            raise DataError(f"cannot read image {where}: {exc}") from None
        if mode is None:
            mode = "L" if picture.mode in _GRAY_MODES else "RGB"
        image = TF.pil_to_tensor(picture.convert(mode))
        if size is not None:
            image = TF.resize(image, list(size), antialias=True)
        elif out and image.shape != out[0].shape:
            raise DataError(
                f"image {where} is {image.shape[2]}x{image.shape[1]} but {first} is"
                f" {out[0].shape[2]}x{out[0].shape[1]} (width x height); set data.resize=[h, w]"
                " to convert every image to one size"
            )
        first = first or where
        out.append(image)
    if not out:
        raise DataError("no images to convert")
    return torch.stack(out)
