"""The Lightning Trainer as every stage builds it: device, precision, logging, progress."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto``: bf16 mixed precision on a GPU that has it (else fp16 mixed), fp32 on the CPU."""
    if precision != "auto":
        return precision
    on_gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    if not on_gpu:
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
) -> L.Trainer:
    """A Trainer for ``loop_cfg.epochs`` epochs on ``device_cfg``'s devices and precision."""
    return L.Trainer(
        accelerator=device_cfg.accelerator,
        devices=device_cfg.devices,
        precision=resolve_precision(str(device_cfg.precision), str(device_cfg.accelerator)),
        max_epochs=int(loop_cfg.epochs),
        logger=logger,
        callbacks=list(callbacks),
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        enable_progress_bar=bool(device_cfg.progress),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if validate else 0,
        default_root_dir=str(root_dir),
        log_every_n_steps=1,
    )
