"""Stage 2: train the backbone end to end (METHOD.md Phase 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filterscope.config import checked
from filterscope.models import build_model
from filterscope.outputs import atomic_dir, write_json
from filterscope.stages.common import (
    BACKBONE_FILE,
    datamodule,
    fit_and_test,
    fitting_stage,
    save_backbone,
)
from filterscope.tracking import Upstream
from filterscope.training.classifier import Classifier


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Train, test, and write the checkpoint, ``metrics/train.json`` and the epoch history."""
    data = datamodule(cfg, cfg.train, "train")
    backbone = build_model(cfg.model, data.image_shape, data.num_classes)
    module = Classifier(backbone, cfg.train)
    out = Path(cfg.paths.backbone)
    upstream = Upstream("download", Path(cfg.paths.prepared))
    with fitting_stage(cfg, "train", upstream) as (tracked, resume):
        test, history = fit_and_test(cfg, cfg.train, module, data, tracked, resume)
        seconds = [row["seconds"] for row in history]
        summary = {
            **test,
            **{f"final_{k}": v for k, v in history[-1].items() if k not in ("epoch", "lr")},
            "epochs": len(history),
            "seconds_per_epoch": sum(seconds) / len(seconds),
            "train_images": data.split_size("train"),
        }
        with atomic_dir(out) as tmp:
            save_backbone(tmp / BACKBONE_FILE, cfg, backbone, data.meta, test)
        tracked.record_output(out)
        tracked.log_artifact(write_json(Path(cfg.paths.metrics) / "train.json", summary))
        tracked.log_artifact(out / BACKBONE_FILE, "checkpoint")
    return summary
