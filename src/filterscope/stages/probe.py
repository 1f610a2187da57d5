"""Stage 3: a linear probe at every configured layer of the frozen backbone (METHOD.md Phase 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filterscope.config import checked, resolve_layers
from filterscope.outputs import atomic_dir, write_csv, write_json
from filterscope.probing.heads import ProbeHeads, layer_suffix
from filterscope.stages.common import PROBES_FILE, datamodule, load_backbone, save_probes
from filterscope.tracking import stage_run
from filterscope.training.history import EpochHistory
from filterscope.training.trainer import build_trainer


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Train every probe in one pass per batch; write the weights and ``metrics/probe.json``."""
    backbone, ckpt = load_backbone(cfg)
    layers = resolve_layers(cfg.probe.layers, backbone.num_layers)
    shapes = backbone.cut_shapes(ckpt["image_shape"])
    module = ProbeHeads(
        backbone, layers, [shapes[layer - 1] for layer in layers], len(ckpt["classes"]), cfg.probe
    )
    data = datamodule(cfg, cfg.probe)
    history = EpochHistory()
    out = Path(cfg.paths.probes)
    with stage_run(cfg, "probe", upstream=Path(cfg.paths.backbone)) as tracked:
        trainer = build_trainer(
            cfg.probe,
            device_cfg=cfg.train,
            logger=tracked.lightning_logger(),
            callbacks=[history],
            root_dir=out.parent,
            validate=cfg.data.val_fraction > 0,
        )
        trainer.fit(module, datamodule=data)
        trainer.test(module, datamodule=data, verbose=False)
        test = module.epoch_metrics("test")
        accuracy = {layer: test[f"test_acc{layer_suffix(layer)}"] for layer in layers}
        with atomic_dir(out) as tmp:
            biases = {
                layer: None if head.bias is None else head.bias.detach().float().cpu()
                for layer, head in zip(layers, module.heads, strict=True)
            }
            save_probes(tmp / PROBES_FILE, layers, module.weights(), biases, accuracy)
            tracked.record(tmp, "probe")
        summary = {
            "accuracy": {f"layer_{layer:02d}": acc for layer, acc in accuracy.items()},
            "features": {f"layer_{layer:02d}": list(shapes[layer - 1]) for layer in layers},
        }
        metrics_path = write_json(Path(cfg.paths.metrics) / "probe.json", summary)
        history_path = write_csv(Path(cfg.paths.plots) / "probe_history.csv", history.rows)
        tracked.log_metrics(test)
        tracked.log_artifact(metrics_path)
        tracked.log_artifact(history_path)
    return summary
