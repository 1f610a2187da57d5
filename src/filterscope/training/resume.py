"""Surviving interruption: a checkpoint after every epoch, and epochs that replay exactly.

A stage keeps its checkpoint in ``<paths.root>/.resume/<stage>-<key>/last.ckpt``, where the key
hashes the config and the content of the stage's input, so a changed config or a retrained
backbone never resumes from a stale state. The folder goes once the stage's outputs are written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import psutil
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import OmegaConf

from filterscope.errors import FilterscopeError

CHECKPOINT = "last.ckpt"
ATTEMPTS = ".attempts.json"  # beside the folder: Lightning wants the checkpoint folder to itself
# Keys that do not change what a stage computes.
_NEUTRAL = ("tracking", "runtime", "paths", "compare", "profile")


class StageInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a fit; the last completed epoch is saved for resuming."""


class StageBusy(FilterscopeError):
    """Another live process is running the same stage on the same config and input."""


def _this_process() -> dict[str, Any]:
    me = psutil.Process()
    return {"pid": me.pid, "host": socket.gethostname(), "started": me.create_time()}


def _alive(attempt: dict[str, Any]) -> bool:
    """Whether the process that made ``attempt`` still runs (same host, pid and start time)."""
    if attempt.get("host") != socket.gethostname() or attempt.get("pid") == os.getpid():
        return False
    try:
        return psutil.Process(int(attempt["pid"])).create_time() == attempt.get("started")
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def _attempts_file(folder: Path) -> Path:
    return folder.with_name(folder.name + ATTEMPTS)


def earlier_attempts(folder: Path, stage: str) -> list[dict[str, Any]]:
    """The earlier runs of this stage that used ``folder`` (each ``{"run_id", "pid", ...}``,
    oldest first); refuses with :class:`StageBusy` while one of their processes still runs."""
    path = _attempts_file(folder)
    try:
        attempts = json.loads(path.read_text()) if path.is_file() else []
    except (OSError, ValueError):
        attempts = []
    for attempt in attempts:
        if _alive(attempt):
            raise StageBusy(
                f"{stage} is already running on this config and input (pid {attempt['pid']},"
                f" MLflow run {attempt.get('run_id')}); wait for it, or stop it and run again"
            )
    return attempts


def record_attempt(folder: Path, attempts: list[dict[str, Any]], run_id: str) -> None:
    """Add this process and its MLflow run to ``folder``'s attempts."""
    path = _attempts_file(folder)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([*attempts, {"run_id": run_id, **_this_process()}], indent=2))
    os.replace(tmp, path)


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


def resume_key(cfg: Any, stage: str, input_hash: str | None) -> str:
    """Hash of what the stage computes from: its config (less neutral keys) and its input."""
    config = OmegaConf.to_container(cfg, resolve=True)
    relevant = {k: v for k, v in config.items() if k not in _NEUTRAL}
    text = f"{stage}\n{input_hash}\n{OmegaConf.to_yaml(OmegaConf.create(relevant))}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def resumable(cfg: Any, stage: str, input_hash: str | None) -> Iterator[Path]:
    """The stage's resume folder; removed when the block completes (the outputs are written)."""
    folder = Path(cfg.paths.root) / ".resume" / f"{stage}-{resume_key(cfg, stage, input_hash)}"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
    _attempts_file(folder).unlink(missing_ok=True)


def epoch_checkpoint(folder: Path) -> ModelCheckpoint:
    """Overwrites ``folder/last.ckpt`` at the end of every training epoch. Lightning writes a
    checkpoint atomically (an fsspec transaction: a temporary file renamed in), so a process
    killed mid-write (SIGKILL, the OOM killer) leaves the previous epoch's checkpoint whole."""
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
