"""Fitting and measuring in a stage: seeding and the data, the tracked and resumable stage
run, the fit-and-test loop, the float32 test pass."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.accelerators import CPUAccelerator

from filterscope.data.batches import normalization
from filterscope.distributed import WorkerDone, launched_as_rank_zero
from filterscope.errors import ConfigError
from filterscope.outputs import write_csv
from filterscope.precision import slow_bf16_warning
from filterscope.progress import bar_wanted, say
from filterscope.tracking import StageRun, Upstream, stage_run
from filterscope.training.datamodule import TensorDataModule
from filterscope.training.history import EpochHistory
from filterscope.training.metered import MeteredModule
from filterscope.training.resume import (
    EpochSeed,
    StageInterrupted,
    earlier_attempts,
    epoch_checkpoint,
    last_checkpoint,
    record_attempt,
    resumable,
)
from filterscope.training.trainer import build_trainer, early_stopping, weight_averaging


def datamodule(cfg: Any, loop_cfg: Any, section: str | None = None) -> TensorDataModule:
    """Seed everything (call it before building any module), then the prepared data served with
    ``loop_cfg``'s batching and augmentation. A training loop names its config ``section``: its
    batch size is checked against the training split."""
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    data = TensorDataModule(
        Path(cfg.paths.prepared),
        cfg.data,
        loop_cfg,
        seed=int(cfg.seed),
        channels_last=bool(cfg.train.channels_last),
    )
    data.norm = normalization(cfg.model, data.image_shape[0])  # from the meta it has read
    if section is not None:
        data.check_batch_size(section)
    return data


@contextmanager
def fitting_stage(cfg: Any, stage: str, upstream: Upstream) -> Iterator[tuple[StageRun, Path]]:
    """A training stage's MLflow run and its resume folder, keyed by its input's content.

    Resuming after a crash, even a SIGKILL that left the earlier run RUNNING, ends the earlier
    runs as KILLED and tags them with this one (``filterscope.resumed_by``)."""
    with resumable(cfg, stage, upstream.hash) as resume:
        lead = launched_as_rank_zero()
        attempts = earlier_attempts(resume, stage) if lead else []
        with stage_run(cfg, stage, upstream=upstream) as tracked:
            if lead:
                tracked.take_over([attempt["run_id"] for attempt in attempts])
                record_attempt(resume, attempts, tracked.run_id)
            yield tracked, resume


def fit_and_test(
    cfg: Any,
    loop_cfg: Any,
    module: MeteredModule,
    data: TensorDataModule,
    tracked: StageRun,
    resume: Path,
    prefix: str = "",
    history_csv: bool = True,
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Fit ``module`` for ``loop_cfg.epochs`` (fewer when ``loop_cfg.early_stop`` stops it;
    resuming from ``resume`` when it holds a checkpoint) and test it, on every device of
    ``cfg.train`` (a DDP worker rank stops after the test with :class:`WorkerDone`); log the
    per-epoch history (metric names prefixed with ``prefix``; without a progress bar, one line
    per epoch on stderr) and, with ``history_csv``, write it to ``plots/<stage>_history.csv``.
    Returns the test metrics (the caller logs them) and the history rows.

    SIGINT or SIGTERM ends the fit with :class:`StageInterrupted`; the last completed epoch is
    in ``resume``, and running the stage again carries on from there.
    """
    progress = bool(cfg.runtime.progress)
    history = EpochHistory(prefix, echo=None if bar_wanted(progress) else tracked.stage)
    trainer = build_trainer(
        loop_cfg,
        device_cfg=cfg.train,
        logger=tracked.lightning_logger(),
        callbacks=[
            EpochSeed(int(cfg.seed)),
            history,
            epoch_checkpoint(resume),
            *early_stopping(loop_cfg),
            *weight_averaging(loop_cfg),
        ],
        root_dir=Path(cfg.paths.root),
        validate=cfg.data.val_fraction > 0,
        distributed=True,
        progress=progress,
    )
    warning = slow_bf16_warning(
        str(trainer.precision),
        isinstance(trainer.accelerator, CPUAccelerator),
        torch.cpu.get_capabilities(),
    )
    if warning:
        say(tracked.stage, warning)
    start = last_checkpoint(resume)
    try:
        # weights_only: a resume checkpoint, too, holds only tensors and plain values
        trainer.fit(module, datamodule=data, ckpt_path=start, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ConfigError(
            f"resume checkpoint {start} is refused: it holds more than tensors and plain values;"
            f" delete {resume} to start {tracked.stage} over"
        ) from exc
    except SystemExit as exc:  # Lightning turns SIGINT/SIGTERM into SystemExit after teardown
        if trainer.interrupted:
            done = len(history.rows)
            raise StageInterrupted(
                f"{tracked.stage} interrupted after {done} complete epoch(s); run it again to"
                f" resume from {resume / 'last.ckpt'}"
            ) from exc
        raise
    if start is not None:  # the epochs before the interruption, into this run too
        tracked.set_tag("filterscope.resumed_from", str(start))
        for row in history.rows[: history.restored]:
            metrics = {f"{prefix}{k}": v for k, v in row.items() if k != "epoch"}
            tracked.log_metrics(metrics, step=int(row["epoch"]))
    trainer.test(module, datamodule=data, verbose=False)
    if trainer.global_rank > 0:
        raise WorkerDone  # rank zero logs and writes for every rank
    if history_csv:
        tracked.log_artifact(
            write_csv(Path(cfg.paths.plots) / f"{tracked.stage}_history.csv", history.rows)
        )
    return module.tested, history.rows


def measure(cfg: Any, module: L.LightningModule, data: TensorDataModule, root: Path) -> None:
    """One pass of ``module`` over the test set on one device, in float32 whatever
    ``train.precision`` (a measuring stage: fields, AFCC)."""
    trainer = build_trainer(
        cfg.probe,
        device_cfg=cfg.train,
        logger=False,
        callbacks=[],
        root_dir=root,
        measure=True,
        progress=bool(cfg.runtime.progress),
    )
    trainer.test(module, datamodule=data, verbose=False)
