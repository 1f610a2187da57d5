"""The Lightning Trainer as every stage builds it: device, precision, logging, progress, early
stopping, and any further Trainer options of the loop (``<loop>.trainer``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, WeightAveraging

from filterscope.progress import bar_wanted
from filterscope.schemas.rules import plain
from filterscope.schemas.train import MONITORED


def _on_gpu(accelerator: str) -> bool:
    return accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto``: bf16 mixed precision on a GPU that has it (else fp16 mixed), fp32 on the CPU."""
    if precision != "auto":
        return precision
    if not _on_gpu(accelerator):
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


def early_stopping(loop_cfg: Any) -> list[L.Callback]:
    """Lightning's EarlyStopping on ``<loop>.early_stop.monitor`` (none when it is null), checked
    after each epoch's history row is logged."""
    stop = loop_cfg.get("early_stop")
    if not stop or stop.get("monitor") is None:
        return []
    monitor = str(stop.monitor)
    return [
        EarlyStopping(
            monitor=monitor,
            mode=MONITORED[monitor],
            patience=int(stop.patience),
            min_delta=float(stop.min_delta),
            check_on_train_epoch_end=True,
        )
    ]


class WarmupEma:
    """An exponential moving average whose decay warms up: ``min(decay, (1 + n) / (10 + n))`` at
    its ``n``-th update (TensorFlow's ExponentialMovingAverage with ``num_updates``), so a short
    fit's average follows its early weights instead of keeping the initial ones."""

    def __init__(self, decay: float) -> None:
        self.decay = decay

    def __call__(
        self, averaged: torch.Tensor, current: torch.Tensor, count: torch.Tensor
    ) -> torch.Tensor:
        n = float(count)
        decay = min(self.decay, (1 + n) / (10 + n))
        return averaged + (current - averaged) * (1 - decay)


def weight_averaging(loop_cfg: Any) -> list[L.Callback]:
    """Lightning's weight averaging of the weights and BatchNorm buffers, as a :class:`WarmupEma`
    of decay ``<loop>.ema`` (none when it is null or absent): validation sees the averaged
    weights, and they replace the trained ones when the fit ends."""
    decay = loop_cfg.get("ema")
    return [] if decay is None else [WeightAveraging(avg_fn=WarmupEma(float(decay)))]


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
    ``measure``: a measuring pass (fields, AFCC), in float32 whatever ``device_cfg.precision``
    and without ``loop_cfg.trainer``'s options (a measurement sees every test image).
    ``progress``: Lightning's progress bar (``runtime.progress``), where :func:`bar_wanted`.
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
    options = {} if measure else dict(plain(loop_cfg.get("trainer")))
    if not validate:
        options["limit_val_batches"] = 0
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
        enable_progress_bar=bar_wanted(progress),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(root_dir),
        **{"limit_val_batches": 1.0, "log_every_n_steps": 1, **options},
    )
