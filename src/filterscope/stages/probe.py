"""Stage 3: a linear probe at every configured layer of the frozen backbone (METHOD.md Phase 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filterscope.config import checked, resolve_layers
from filterscope.outputs import atomic_dir, write_json
from filterscope.probing.heads import ProbeHeads, layer_suffix
from filterscope.stages.common import (
    PROBES_FILE,
    datamodule,
    fit_and_test,
    fitting_stage,
    load_backbone,
    save_probes,
)
from filterscope.tracking import Upstream


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Train every probe in one pass per batch; write the weights and ``metrics/probe.json``."""
    backbone, ckpt = load_backbone(cfg)
    layers = resolve_layers(cfg.probe.layers, backbone.num_layers)
    shapes = backbone.cut_shapes(ckpt["image_shape"])
    data = datamodule(cfg, cfg.probe, "probe")  # seeds everything: the heads' initial weights too
    module = ProbeHeads(
        backbone, layers, [shapes[layer - 1] for layer in layers], len(ckpt["classes"]), cfg.probe
    )
    out = Path(cfg.paths.probes)
    upstream = Upstream("train", Path(cfg.paths.backbone))
    with fitting_stage(cfg, "probe", upstream) as (tracked, resume):
        test, _ = fit_and_test(cfg, cfg.probe, module, data, tracked, resume, prefix="probe_")
        accuracy = {layer: test[f"test_acc{layer_suffix(layer)}"] for layer in layers}
        with atomic_dir(out) as tmp:
            save_probes(tmp / PROBES_FILE, layers, module.weights(), module.biases(), accuracy)
        tracked.record_output(out)
        summary = {
            "accuracy": {f"layer_{layer:02d}": acc for layer, acc in accuracy.items()},
            "features": {f"layer_{layer:02d}": list(shapes[layer - 1]) for layer in layers},
        }
        tracked.log_artifact(write_json(Path(cfg.paths.metrics) / "probe.json", summary))
    return summary
