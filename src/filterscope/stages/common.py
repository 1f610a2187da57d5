"""Pieces every training-type stage shares: seeding, data, the trained backbone."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import OmegaConf

from filterscope.distributed import WorkerDone, launched_as_rank_zero
from filterscope.errors import ConfigError
from filterscope.models import Backbone, build_model
from filterscope.outputs import write_csv
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
from filterscope.training.trainer import build_trainer

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
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Fit ``module`` for ``loop_cfg.epochs`` (resuming from ``resume`` when it holds a checkpoint)
    and test it, on every device of ``cfg.train`` (a DDP worker rank stops after the test with
    :class:`WorkerDone`); log the per-epoch history (metric names prefixed with ``prefix``) and
    write it to ``plots/<stage>_history.csv``. Returns the test metrics and the history rows.

    SIGINT or SIGTERM ends the fit with :class:`StageInterrupted`; the last completed epoch is
    in ``resume``, and running the stage again carries on from there.
    """
    history = EpochHistory(prefix)
    trainer = build_trainer(
        loop_cfg,
        device_cfg=cfg.train,
        logger=tracked.lightning_logger(),
        callbacks=[EpochSeed(int(cfg.seed)), history, epoch_checkpoint(resume)],
        root_dir=Path(cfg.paths.root),
        validate=cfg.data.val_fraction > 0,
        distributed=True,
        progress=bool(cfg.runtime.progress),
    )
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
    tracked.log_artifact(
        write_csv(Path(cfg.paths.plots) / f"{tracked.stage}_history.csv", history.rows)
    )
    test = module.tested
    tracked.log_metrics({f"{prefix}{k}": v for k, v in test.items()})
    return test, history.rows


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


def _load(path: Path, what: str, stage: str) -> dict[str, Any]:
    """A stage's torch file, unpickled with ``weights_only=True``: plain containers and tensors
    only, so a file crafted to run code when unpickled (say, pulled from a shared DVC remote)
    is refused instead of executed."""
    if not path.is_file():
        raise ConfigError(f"{what} {path} is missing; run the {stage} stage first (dvc repro)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not zipfile.is_zipfile(path):  # not a torch file at all: corrupt, cut short
            raise ConfigError(f"{what} {path} is unreadable; rerun the {stage} stage") from None
        lines = [line.strip() for line in str(exc).splitlines()]
        why = next((line for line in lines if line.startswith(("Trying", "Unsupported"))), "")
        raise ConfigError(
            f"{what} {path} is refused: it holds more than tensors and plain values"
            f" ({why.rstrip('.') or 'not loadable with weights_only=True'}); rerun the {stage}"
            " stage rather than load a file you do not trust"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a corrupt file of any kind gets the same advice
        raise ConfigError(f"{what} {path} is unreadable ({exc}); rerun the {stage} stage") from exc


def save_backbone(
    path: Path, cfg: Any, backbone: Backbone, meta: dict[str, Any], test: dict[str, float]
) -> None:
    """The checkpoint: model config, dataset, weights and the ``test`` metrics they score."""
    torch.save(
        {
            "model": OmegaConf.to_container(cfg.model, resolve=True),
            "dataset": cfg.data.name,
            "image_shape": list(meta["image_shape"]),
            "classes": list(meta["classes"]),
            "test": {k: float(v) for k, v in test.items()},
            "state_dict": backbone.state_dict(),
        },
        path,
    )


def load_backbone(cfg: Any) -> tuple[Backbone, dict[str, Any]]:
    """The trained backbone; refuses a checkpoint made for another model or dataset."""
    path = Path(cfg.paths.backbone) / BACKBONE_FILE
    ckpt = _load(path, "backbone checkpoint", "train")
    wanted = OmegaConf.to_container(cfg.model, resolve=True)
    if ckpt.get("model") != wanted or ckpt.get("dataset") != cfg.data.name:
        raise ConfigError(
            f"backbone checkpoint {path} was trained for model={ckpt.get('model')} on"
            f" {ckpt.get('dataset')}, but the config asks model={wanted} on {cfg.data.name};"
            " rerun the train stage"
        )
    backbone = build_model(cfg.model, ckpt["image_shape"], len(ckpt["classes"]))
    backbone.load_state_dict(ckpt["state_dict"])
    return backbone.eval(), ckpt


def save_probes(path: Path, layers: list[int], weights: dict, biases: dict, accuracy: dict) -> None:
    torch.save({"layers": layers, "weights": weights, "biases": biases, "accuracy": accuracy}, path)


def load_probes(cfg: Any, layers: list[int]) -> dict[str, Any]:
    """The trained probes; refuses probes of other layers than the config asks for."""
    path = Path(cfg.paths.probes) / PROBES_FILE
    probes = _load(path, "probe weights", "probe")
    if probes.get("layers") != layers:
        raise ConfigError(
            f"probe weights {path} hold layers {probes.get('layers')}, the config asks {layers};"
            " rerun the probe stage"
        )
    return probes
