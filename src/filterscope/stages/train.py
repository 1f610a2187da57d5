"""Stage 2: train the backbone end to end (METHOD.md Phase 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filterscope.config import checked
from filterscope.models import build_model
from filterscope.outputs import atomic_dir, write_csv, write_json
from filterscope.stages.common import BACKBONE_FILE, datamodule, save_backbone
from filterscope.tracking import stage_run
from filterscope.training.classifier import Classifier
from filterscope.training.history import EpochHistory
from filterscope.training.trainer import build_trainer


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Train, test, and write the checkpoint, ``metrics/train.json`` and the epoch history."""
    data = datamodule(cfg, cfg.train)
    backbone = build_model(cfg.model, data.image_shape, data.num_classes)
    module = Classifier(backbone, cfg.train)
    history = EpochHistory()
    out = Path(cfg.paths.backbone)
    with stage_run(cfg, "train", upstream=Path(cfg.paths.prepared)) as tracked:
        trainer = build_trainer(
            cfg.train,
            device_cfg=cfg.train,
            logger=tracked.lightning_logger(),
            callbacks=[history],
            root_dir=out.parent,
            validate=cfg.data.val_fraction > 0,
        )
        trainer.fit(module, datamodule=data)
        trainer.test(module, datamodule=data, verbose=False)
        test = module.epoch_metrics("test")
        seconds = [row["seconds"] for row in history.rows]
        summary = {
            **test,
            **{f"final_{k}": v for k, v in history.rows[-1].items() if k not in ("epoch", "lr")},
            "epochs": len(history.rows),
            "seconds_per_epoch": sum(seconds) / len(seconds),
            "train_images": data.split_size("train"),
        }
        with atomic_dir(out) as tmp:
            save_backbone(tmp / BACKBONE_FILE, cfg, backbone, data.meta)
            tracked.record(tmp, "train")
        metrics_path = write_json(Path(cfg.paths.metrics) / "train.json", summary)
        history_path = write_csv(Path(cfg.paths.plots) / "train_history.csv", history.rows)
        tracked.log_metrics(test)
        tracked.log_artifact(metrics_path)
        tracked.log_artifact(history_path)
        tracked.log_artifact(out / BACKBONE_FILE, "checkpoint")
    return summary
