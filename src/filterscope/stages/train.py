"""Stage 2: train the backbone end to end (docs/method.md, Phase 1), or import a trained one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from filterscope.config import checked
from filterscope.models import build_model
from filterscope.models.imports import import_source, import_trained
from filterscope.outputs import atomic_dir, write_csv, write_json
from filterscope.stages.artifacts import BACKBONE_FILE, save_backbone
from filterscope.stages.fitting import datamodule, fit_and_test, fitting_stage, measure
from filterscope.tracking import StageRun, Upstream, stage_run
from filterscope.training.classifier import Classifier
from filterscope.training.datamodule import TensorDataModule

HISTORY_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Train, test, and write the checkpoint, ``metrics/train.json`` and the epoch history;
    with ``model.checkpoint`` or ``model.weights``, import that model and test it instead."""
    data = datamodule(cfg, cfg.train, "train")
    backbone = build_model(cfg.model, data.image_shape, data.num_classes)
    upstream = Upstream("download", Path(cfg.paths.prepared))
    if import_source(cfg.model):
        return _imported(cfg, backbone, data, upstream)
    module = Classifier(backbone, cfg.train, data.num_classes)
    with fitting_stage(cfg, "train", upstream) as (tracked, resume):
        tracked.log_datasets(data.meta, Path(cfg.paths.prepared), ("train", "test"))
        test, history = fit_and_test(cfg, cfg.train, module, data, tracked, resume)
        seconds = [row["seconds"] for row in history]
        summary = {
            **test,
            **{f"final_{k}": v for k, v in history[-1].items() if k not in ("epoch", "lr")},
            "epochs": len(history),
            "seconds_per_epoch": sum(seconds) / len(seconds),
            "train_images": data.split_size("train"),
        }
        _write(cfg, tracked, backbone, data, test, summary)
    return summary


def _imported(
    cfg: Any, backbone: nn.Module, data: TensorDataModule, upstream: Upstream
) -> dict[str, Any]:
    """Load the configured trained model, score it on the test set (float32) and write it as
    the stage's checkpoint; the epoch history is empty."""
    imported = import_trained(backbone, cfg.model)
    module = Classifier(backbone, cfg.train, data.num_classes)
    with stage_run(cfg, "train", upstream=upstream) as tracked:
        for key, value in imported.items():
            tracked.set_tag(f"filterscope.imported.{key}", value)
        tracked.log_datasets(data.meta, Path(cfg.paths.prepared), ("test",))
        measure(cfg, module, data, Path(cfg.paths.backbone).parent)
        test = module.tested
        summary = {**test, "epochs": 0, "imported": imported}
        write_csv(Path(cfg.paths.plots) / "train_history.csv", [], HISTORY_FIELDS)
        _write(cfg, tracked, backbone, data, test, summary, imported)
    return summary


def _write(
    cfg: Any,
    tracked: StageRun,
    backbone: nn.Module,
    data: TensorDataModule,
    test: dict[str, float],
    summary: dict[str, Any],
    imported: dict[str, str] | None = None,
) -> None:
    out = Path(cfg.paths.backbone)
    with atomic_dir(out) as tmp:
        save_backbone(tmp / BACKBONE_FILE, cfg, backbone, data.meta, test, imported)
    tracked.record_output(out)
    tracked.log_artifact(write_json(Path(cfg.paths.metrics) / "train.json", summary))
    tracked.log_artifact(out / BACKBONE_FILE, "checkpoint")
    images, _ = next(iter(data.test_dataloader()))  # two normalised test images, as it takes them
    tracked.log_model(backbone.cpu().eval(), images[:2], test)
