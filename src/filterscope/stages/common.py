"""Pieces every training-type stage shares: seeding, data, the trained backbone."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.accelerators import CPUAccelerator
from omegaconf import OmegaConf
from torch import nn

from filterscope.config import resolve_layers
from filterscope.data.batches import normalization
from filterscope.distributed import WorkerDone, launched_as_rank_zero
from filterscope.errors import ConfigError
from filterscope.models import CutModel, build_model
from filterscope.models.cuts import pool_grid, resolve_nodes
from filterscope.models.imports import sha256
from filterscope.outputs import write_csv
from filterscope.precision import slow_bf16_warning
from filterscope.progress import bar_wanted, say
from filterscope.torchfiles import load_torch
from filterscope.tracking import SilentRun, StageRun, Upstream, stage_run
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

BACKBONE_FILE = "backbone.pt"
PROBES_FILE = "probes.pt"


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
def fitting_stage(
    cfg: Any, stage: str, upstream: Upstream
) -> Iterator[tuple[StageRun | SilentRun, Path]]:
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
    tracked: StageRun | SilentRun,
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


def save_backbone(
    path: Path,
    cfg: Any,
    backbone: nn.Module,
    meta: dict[str, Any],
    test: dict[str, float],
    imported: dict[str, str] | None = None,
) -> None:
    """The checkpoint: model config, dataset, weights and the ``test`` metrics they score; an
    imported model also records where it came from (``imported``)."""
    torch.save(
        {
            "model": OmegaConf.to_container(cfg.model, resolve=True),
            "dataset": cfg.data.name,
            "image_shape": list(meta["image_shape"]),
            "classes": list(meta["classes"]),
            "test": {k: float(v) for k, v in test.items()},
            "imported": imported,
            "state_dict": backbone.state_dict(),
        },
        path,
    )


def load_backbone(cfg: Any) -> tuple[nn.Module, dict[str, Any]]:
    """The trained backbone; refuses a checkpoint made for another model or dataset, or one
    imported from a ``model.checkpoint`` file that has changed since."""
    path = Path(cfg.paths.backbone) / BACKBONE_FILE
    ckpt = load_torch(path, "backbone checkpoint", "train")
    wanted = OmegaConf.to_container(cfg.model, resolve=True)
    if ckpt.get("model") != wanted or ckpt.get("dataset") != cfg.data.name:
        raise ConfigError(
            f"backbone checkpoint {path} was trained for model={ckpt.get('model')} on"
            f" {ckpt.get('dataset')}, but the config asks model={wanted} on {cfg.data.name};"
            " rerun the train stage"
        )
    imported = ckpt.get("imported") or {}
    source = Path(imported.get("checkpoint", ""))
    if imported.get("checkpoint") and source.is_file() and sha256(source) != imported["sha256"]:
        raise ConfigError(
            f"model.checkpoint {source} has changed since the train stage imported it (DVC does"
            " not track that file); import it again: dvc repro --force --single-item train"
        )
    backbone = build_model(cfg.model, ckpt["image_shape"], len(ckpt["classes"]))
    backbone.load_state_dict(ckpt["state_dict"])
    return backbone.eval(), ckpt


def probed_model(cfg: Any) -> tuple[CutModel, dict[str, Any], list[int]]:
    """The trained backbone with its cut points (``probe.cuts``, ``probe.pool``), its checkpoint
    and the probed layers (``probe.layers``)."""
    backbone, ckpt = load_backbone(cfg)
    model = CutModel(backbone, resolve_nodes(backbone, cfg.probe.cuts), pool_grid(cfg.probe.pool))
    return model, ckpt, resolve_layers(cfg.probe.layers, model.num_layers)


def probe_variant(model: CutModel) -> str:
    """How the probes read their cut points, as every output records it."""
    if model.pool is None:
        return "exact: the full C·H·W cut point (METHOD.md)"
    return f"pooled: each cut point averaged to at most {model.pool[0]}x{model.pool[1]}"


def save_probes(
    path: Path,
    model: CutModel,
    layers: list[int],
    weights: dict,
    biases: dict,
    accuracy: dict,
) -> None:
    torch.save(
        {
            "layers": layers,
            "nodes": model.node_names(layers),
            "pool": model.pool_record(),
            "weights": weights,
            "biases": biases,
            "accuracy": accuracy,
        },
        path,
    )


def load_probes(cfg: Any, model: CutModel, layers: list[int]) -> dict[str, Any]:
    """The trained probes; refuses probes of other layers, cut points or pooling than the
    config asks for."""
    path = Path(cfg.paths.probes) / PROBES_FILE
    probes = load_torch(path, "probe weights", "probe")
    nodes, pool = model.node_names(layers), model.pool_record()
    found = (probes.get("layers"), probes.get("nodes"), probes.get("pool"))
    if found != (layers, nodes, pool):
        raise ConfigError(
            f"probe weights {path} hold layers {found[0]} at {found[1]} (pool {found[2]}), the"
            f" config asks {layers} at {nodes} (pool {pool}); rerun the probe stage"
        )
    return probes
