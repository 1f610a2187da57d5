"""Surviving interruption: a checkpoint after every epoch, and epochs that replay exactly.

A stage keeps its checkpoint in ``<paths.root>/.resume/<stage>-<key>/last.ckpt``, where the key
hashes the config and the run that made the stage's input, so a changed config or a retrained
backbone never resumes from a stale state. The folder goes once the stage's outputs are written.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import OmegaConf

CHECKPOINT = "last.ckpt"
# Keys that do not change what a stage computes.
_NEUTRAL = ("tracking", "paths", "compare", "profile")


class StageInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a fit; the last completed epoch is saved for resuming."""


class EpochSeed(L.Callback):
    """Reseeds torch's global RNG (dropout) at every epoch start from ``(seed, epoch, rank)``:
    an epoch's random draws then depend on nothing before it, so a resumed fit repeats an
    uninterrupted one, and DDP ranks draw different dropout masks. (Batch order and
    augmentation are seeded per epoch by the batches.)"""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        rank = 7919 * trainer.global_rank
        torch.manual_seed(self.seed * 1_000_003 + trainer.current_epoch + rank)


def resume_key(cfg: Any, stage: str, upstream_run: str | None) -> str:
    """Hash of what the stage computes from: its config (less neutral keys) and its input's run."""
    config = OmegaConf.to_container(cfg, resolve=True)
    relevant = {k: v for k, v in config.items() if k not in _NEUTRAL}
    relevant["train"] = {k: v for k, v in relevant.get("train", {}).items() if k != "progress"}
    text = f"{stage}\n{upstream_run}\n{OmegaConf.to_yaml(OmegaConf.create(relevant))}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def resumable(cfg: Any, stage: str, upstream_run: str | None) -> Iterator[Path]:
    """The stage's resume folder; removed when the block completes (the outputs are written)."""
    folder = Path(cfg.paths.root) / ".resume" / f"{stage}-{resume_key(cfg, stage, upstream_run)}"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def epoch_checkpoint(folder: Path) -> ModelCheckpoint:
    """Overwrites ``folder/last.ckpt`` at the end of every training epoch."""
    return ModelCheckpoint(
        dirpath=folder,
        filename=Path(CHECKPOINT).stem,
        save_top_k=1,
        every_n_epochs=1,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )


def last_checkpoint(folder: Path) -> Path | None:
    path = folder / CHECKPOINT
    return path if path.is_file() else None
