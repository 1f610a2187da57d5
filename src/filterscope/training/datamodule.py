"""Prepared uint8 tensors, resident on the training device, served as augmented batches."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch

from filterscope.data.batches import DeviceBatches, Normalization, split_train_val
from filterscope.data.prepared import check_options, read_meta, read_split
from filterscope.errors import ConfigError


def _limit(
    split: tuple[torch.Tensor, torch.Tensor], n: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = split
    return (images, labels) if n is None else (images[:n], labels[:n])


class _TrainerEpochBatches(DeviceBatches):
    """Batches whose epoch draws follow the trainer's epoch, not a count of ``iter`` calls.

    Lightning may call ``iter`` twice before the first epoch, and a fit resumed from an
    end-of-epoch checkpoint iterates before it counts that epoch as completed; the number of
    epochs it has *processed* is the index of the epoch the iterator will serve in every case.
    """

    def __init__(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trainer = trainer

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.epoch = self.trainer.fit_loop.epoch_progress.current.processed
        return super().__iter__()


class TensorDataModule(L.LightningDataModule):
    """Train/val/test batches from ``prepared_dir`` (the download stage's output), each split
    resident on the device; under DDP every process serves its shard of every batch.

    ``data_cfg`` supplies ``val_fraction``, ``train_limit``, ``test_limit``; ``loop_cfg`` (a train
    or probe config) supplies ``batch_size``, ``augment``, ``max_shift`` and, in the train loop,
    ``cutout``; ``norm`` is how pixels are scaled (``data.batches.normalization``).
    """

    def __init__(
        self,
        prepared_dir: Path,
        data_cfg: Any,
        loop_cfg: Any,
        *,
        seed: int,
        channels_last: bool = False,
        norm: Normalization = None,
    ) -> None:
        super().__init__()
        self.prepared_dir = Path(prepared_dir)
        self.meta = read_meta(self.prepared_dir)
        check_options(self.meta, data_cfg, self.prepared_dir)
        self.hflip = bool(self.meta["hflip"])
        self.data_cfg = data_cfg
        self.loop_cfg = loop_cfg
        self.seed = seed
        self.channels_last = channels_last
        self.norm = norm
        self._splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def num_classes(self) -> int:
        return len(self.meta["classes"])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.meta["image_shape"])

    def planned_train_size(self) -> int:
        """Training images after ``data.train_limit`` and the validation split (from the meta,
        before any image is read)."""
        n = int(self.meta["counts"]["train"])
        limit = self.data_cfg.train_limit
        n = n if limit is None else min(n, int(limit))
        return n - round(n * float(self.data_cfg.val_fraction))

    def check_batch_size(self, section: str) -> None:
        """Refuse a ``<section>.batch_size`` larger than the training split."""
        size, batch = self.planned_train_size(), int(self.loop_cfg.batch_size)
        if batch > size:
            raise ConfigError(
                f"invalid config: {section}.batch_size={batch} (allowed: at most the {size:,}"
                f" training images of {self.meta['name']} after data.train_limit and"
                " data.val_fraction)"
            )

    def setup(self, stage: str | None = None) -> None:
        if self._splits:
            return
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        train = _limit(read_split(self.prepared_dir, "train"), self.data_cfg.train_limit)
        test = _limit(read_split(self.prepared_dir, "test"), self.data_cfg.test_limit)
        train, val = split_train_val(*train, self.data_cfg.val_fraction, self.seed)
        self._splits = {
            name: (images.to(device), labels.to(device))
            for name, (images, labels) in {"train": train, "val": val, "test": test}.items()
        }

    def _batches(self, split: str, train: bool) -> DeviceBatches:
        images, labels = self._splits[split]
        synced = train and self.trainer is not None
        make = partial(_TrainerEpochBatches, self.trainer) if synced else DeviceBatches
        shard = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        return make(
            images,
            labels,
            self.loop_cfg.batch_size,
            shuffle=train,
            augment=train and bool(self.loop_cfg.augment),
            hflip=self.hflip,
            max_shift=int(self.loop_cfg.max_shift),
            cutout=int(self.loop_cfg.get("cutout", 0)),
            seed=self.seed,
            channels_last=self.channels_last,
            shard=shard,
            norm=self.norm,
        )

    def split_size(self, split: str) -> int:
        """Number of images in ``split`` (after ``setup``)."""
        return len(self._splits[split][1])

    def train_dataloader(self) -> DeviceBatches:
        return self._batches("train", True)

    def val_dataloader(self) -> DeviceBatches:
        return self._batches("val", False)

    def test_dataloader(self) -> DeviceBatches:
        return self._batches("test", False)
