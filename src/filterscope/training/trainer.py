"""The Lightning Trainer as every stage builds it: device, precision, logging, progress."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint


def _on_gpu(accelerator: str) -> bool:
    return accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto``: bf16 mixed precision on a GPU that has it (else fp16 mixed), fp32 on the CPU."""
    if precision != "auto":
        return precision
    if not _on_gpu(accelerator):
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


def build_trainer(
    loop_cfg: Any,
    *,
    device_cfg: Any,
    logger: Any,
    callbacks: Sequence[L.Callback],
    root_dir: Path,
    validate: bool = True,
    distributed: bool = False,
    measure: bool = False,
    progress: bool = False,
) -> L.Trainer:
    """A Trainer for ``loop_cfg.epochs`` epochs on ``device_cfg``'s accelerator and precision.

    ``distributed``: on every device and node ``device_cfg`` names, with its strategy (DDP when
    there are several) and BatchNorm statistics synced across GPUs; otherwise on one device.
    ``measure``: a measuring pass (fields, AFCC), in float32 whatever ``device_cfg.precision``.
    ``progress``: show Lightning's progress bar (``runtime.progress``).
    """
    accelerator = str(device_cfg.accelerator)
    spread = {"devices": 1, "num_nodes": 1, "strategy": "auto", "sync_batchnorm": False}
    if distributed:
        spread = {
            "devices": device_cfg.devices,
            "num_nodes": int(device_cfg.num_nodes),
            "strategy": device_cfg.strategy,
            # SyncBatchNorm runs on GPUs only.
            "sync_batchnorm": bool(device_cfg.sync_batchnorm) and _on_gpu(accelerator),
        }
    return L.Trainer(
        accelerator=accelerator,
        **spread,
        precision=(
            "32-true" if measure else resolve_precision(str(device_cfg.precision), accelerator)
        ),
        max_epochs=int(loop_cfg.epochs),
        logger=logger,
        callbacks=list(callbacks),
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        enable_progress_bar=progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if validate else 0,
        default_root_dir=str(root_dir),
        log_every_n_steps=1,
    )
