"""Batches straight from device-resident uint8 tensors, with batched augmentation on the device.

Images are scaled to [-1, 1] by default, or normalised by a per-channel mean and std (ImageNet's
for torchvision's pretrained weights: :func:`normalization`); augmentation is a random shift of
up to ``max_shift`` pixels in x and y with zero fill (zero of the scaled space) and, where the
dataset allows it, a random horizontal flip, and optionally Cutout (a random square of each image
set to zero; DeVries & Taylor 2017). The random draws come from a CPU generator seeded
with ``seed + epoch``, so an epoch's batches are the same on every run and every device.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from filterscope.errors import ConfigError


def scale(images: Tensor) -> Tensor:
    """uint8 images to float32 in [-1, 1]: ``x / 127.5 - 1`` (0 -> -1, 255 -> 1)."""
    return images.to(torch.float32).div_(127.5).sub_(1.0)


IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
Normalization = tuple[tuple[float, ...], tuple[float, ...]] | None
"""Per-channel (mean, std) of the [0, 1] pixel values; None for the [-1, 1] scaling."""


def normalization(model_cfg: Mapping[str, Any], channels: int) -> Normalization:
    """``model.normalize``: ``auto`` (ImageNet's with torchvision ``weights``, else [-1, 1]),
    ``symmetric`` ([-1, 1]), ``imagenet``, or ``{mean: [...], std: [...]}`` per channel."""
    spec = model_cfg.get("normalize", "auto")
    if spec == "auto":
        spec = "imagenet" if model_cfg.get("weights") else "symmetric"
    if spec == "symmetric":
        return None
    mean, std = IMAGENET if spec == "imagenet" else (None, None)
    if isinstance(spec, Mapping) and set(spec) == {"mean", "std"}:
        mean, std = spec["mean"], spec["std"]
    values = [*(mean or []), *(std or [])]
    ok = mean is not None and len(mean) == len(std) == channels
    if not ok or not all(isinstance(v, int | float) for v in values) or min(std) <= 0:
        raise ConfigError(
            f"model.normalize={spec!r} (allowed: auto|symmetric|imagenet, or {{mean, std}} with"
            f" {channels} value(s) each for {channels}-channel images, std > 0)"
        )
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def normalize(images: Tensor, norm: Normalization) -> Tensor:
    """uint8 images to float32: [-1, 1] (``norm`` None) or ``(x / 255 - mean) / std``."""
    if norm is None:
        return scale(images)
    mean, std = (torch.tensor(v, device=images.device).view(-1, 1, 1) for v in norm)
    return images.to(torch.float32).div_(255.0).sub_(mean).div_(std)


def shift_flip(x: Tensor, shifts: Tensor | None, flips: Tensor | None, max_shift: int) -> Tensor:
    """Mirror each image of ``x`` (B, C, H, W) where ``flips`` (B,) is true, then shift it.

    ``shifts`` (B, 2) int64 holds (dy, dx) per image, each in [-max_shift, max_shift]: the
    content moves dy pixels down and dx pixels right, and uncovered pixels become 0. Done for the
    whole batch at once with zero padding and two gathers.
    """
    b, c, h, w = x.shape
    m = max_shift if shifts is not None else 0
    rows = torch.arange(h, device=x.device).expand(b, h)
    cols = torch.arange(w, device=x.device).expand(b, w)
    if shifts is not None:
        rows = rows - shifts[:, :1]
        cols = cols - shifts[:, 1:]
    if flips is not None:
        cols = torch.where(flips[:, None], w - 1 - cols, cols)
    padded = F.pad(x, (m, m, m, m))
    x = padded.gather(2, (rows + m)[:, None, :, None].expand(b, c, h, w + 2 * m))
    return x.gather(3, (cols + m)[:, None, None, :].expand(b, c, h, w))


def cut_out(x: Tensor, centres: Tensor, size: int) -> Tensor:
    """Zero a ``size`` x ``size`` square of each image of ``x`` (B, C, H, W) in place.

    ``centres`` (B, 2) int64 holds each square's (row, column) centre; the square covers rows
    ``[r - size // 2, r - size // 2 + size)`` and likewise columns, clipped at the borders (so a
    square near an edge is partly outside, as in Cutout). One mask for the whole batch.
    """
    h, w = x.shape[2:]
    top, left = (centres - size // 2).unbind(1)
    rows = torch.arange(h, device=x.device) - top[:, None]  # (B, H): offset into the square
    cols = torch.arange(w, device=x.device) - left[:, None]
    inside = ((rows >= 0) & (rows < size))[:, :, None] & ((cols >= 0) & (cols < size))[:, None, :]
    return x.masked_fill_(inside[:, None], 0.0)


class DeviceBatches:
    """Iterable of (x, y) batches from uint8 images (N, C, H, W) and int64 labels on one device.

    ``x`` is float32 in [-1, 1] or normalised by ``norm`` (channels-last in memory if asked),
    ``y`` the labels. Each ``iter()`` is one epoch: with ``shuffle`` a fresh permutation, with
    ``augment`` fresh random shifts (and flips if ``hflip``, and a ``cutout`` px square zeroed if
    ``cutout`` > 0), all drawn from a generator seeded with ``seed + epoch``.
    ``epoch`` counts the epochs begun; set it to resume a run's sequence.

    ``shard`` ``(rank, world)``: under data-parallel training each of ``world`` processes takes
    every ``world``-th image of each batch from ``rank`` on, so ``batch_size`` stays the global
    batch and the processes together see exactly the single-process epoch. When shuffling
    (training), a last batch smaller than ``world`` is dropped: every process must take the same
    number of steps.
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        batch_size: int,
        *,
        shuffle: bool,
        augment: bool,
        hflip: bool,
        max_shift: int = 4,
        cutout: int = 0,
        seed: int = 0,
        drop_last: bool = False,
        channels_last: bool = False,
        shard: tuple[int, int] = (0, 1),
        norm: Normalization = None,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(
                f"images must be uint8 (N, C, H, W), got {images.dtype} {images.shape}"
            )
        if labels.shape != (len(images),) or labels.device != images.device:
            raise ValueError("labels must be (N,) and on the images' device")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if not 0 <= max_shift < min(images.shape[2:]):
            raise ConfigError(f"max_shift must be in [0, image size), got {max_shift}")
        if not 0 <= cutout <= min(images.shape[2:]):
            raise ConfigError(f"cutout must be in [0, image size], got {cutout}")
        if not 0 <= shard[0] < shard[1]:
            raise ValueError(f"shard must be (rank, world) with 0 <= rank < world, got {shard}")
        if batch_size < shard[1]:
            raise ConfigError(
                f"batch_size {batch_size} cannot be shared by {shard[1]} processes (one image each"
                " at least)"
            )
        self.images, self.labels = images, labels
        self.batch_size = batch_size
        self.shuffle, self.augment, self.hflip = shuffle, augment, hflip
        self.max_shift, self.cutout, self.seed = max_shift, cutout, seed
        self.drop_last, self.channels_last = drop_last, channels_last
        self.rank, self.world = shard
        self.norm = norm
        self.epoch = 0

    def __len__(self) -> int:
        full, rest = divmod(len(self.labels), self.batch_size)
        too_small = self.drop_last or (self.shuffle and rest < self.world)
        return full + (1 if rest and not too_small else 0)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        n, device = len(self.labels), self.labels.device
        order = torch.randperm(n, generator=generator).to(device) if self.shuffle else None
        shifts = flips = None
        if self.augment and self.max_shift > 0:
            m = self.max_shift
            shifts = torch.randint(-m, m + 1, (n, 2), generator=generator).to(device)
        if self.augment and self.hflip:
            flips = (torch.rand(n, generator=generator) < 0.5).to(device)
        centres = None
        if self.augment and self.cutout > 0:  # drawn last: the other draws stay as without it
            size = torch.tensor(self.images.shape[2:])
            centres = (torch.rand(n, 2, generator=generator) * size).long().to(device)
        return self._batches(order, shifts, flips, centres)

    def _batches(
        self,
        order: Tensor | None,
        shifts: Tensor | None,
        flips: Tensor | None,
        centres: Tensor | None,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        n = len(self.labels)
        for i in range(len(self)):
            start = i * self.batch_size
            # This rank's positions in the epoch's order.
            mine = slice(start + self.rank, min(start + self.batch_size, n), self.world)
            if mine.start >= mine.stop:  # an evaluation batch too small to reach this rank
                continue
            index = order[mine] if order is not None else mine
            x = normalize(self.images[index], self.norm)
            if shifts is not None or flips is not None:
                x = shift_flip(
                    x,
                    shifts[mine] if shifts is not None else None,
                    flips[mine] if flips is not None else None,
                    self.max_shift,
                )
            if centres is not None:
                x = cut_out(x, centres[mine], self.cutout)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[index]


def split_train_val(
    images: Tensor, labels: Tensor, val_fraction: float, seed: int
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """Split into (train, validation) by a permutation seeded with ``seed``; each part keeps the
    original order. ``val_fraction`` 0 gives an empty validation part."""
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
    n = len(labels)
    n_val = round(n * val_fraction)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(labels.device)
    val, train = perm[:n_val].sort().values, perm[n_val:].sort().values
    return (images[train], labels[train]), (images[val], labels[val])
