"""Stage 3: a linear probe at every configured layer of the frozen backbone (docs/method.md,
Phase 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filterscope.config import checked
from filterscope.outputs import atomic_dir, write_json
from filterscope.probing.budget import check_probe_memory, memory_limit
from filterscope.probing.heads import ProbeHeads, layer_suffix
from filterscope.stages.artifacts import PROBES_FILE, probe_variant, probed_model, save_probes
from filterscope.stages.fitting import datamodule, fit_and_test, fitting_stage
from filterscope.tracking import Upstream


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Train every probe in one pass per batch; write the weights and ``metrics/probe.json``.

    Probes that would not fit in memory are refused before any data is read."""
    model, ckpt, layers = probed_model(cfg)
    shapes = model.cut_shapes(ckpt["image_shape"])
    num_classes = len(ckpt["classes"])
    check_probe_memory(
        {layer: shapes[layer - 1] for layer in layers},
        num_classes,
        str(cfg.probe.optimizer),
        float(cfg.probe.momentum),
        *memory_limit(cfg.probe.memory_limit_gb, str(cfg.train.accelerator)),
    )
    data = datamodule(cfg, cfg.probe, "probe")  # seeds everything: the heads' initial weights too
    probed = [shapes[layer - 1] for layer in layers]
    module = ProbeHeads(model, layers, probed, num_classes, cfg.probe)
    out = Path(cfg.paths.probes)
    upstream = Upstream("train", Path(cfg.paths.backbone))
    with fitting_stage(cfg, "probe", upstream) as (tracked, resume):
        tracked.set_tag("filterscope.probe_variant", probe_variant(model))
        tracked.log_datasets(data.meta, Path(cfg.paths.prepared), ("train", "test"))
        test, _ = fit_and_test(cfg, cfg.probe, module, data, tracked, resume, prefix="probe_")
        tracked.log_metrics({f"probe_{k}": v for k, v in test.items()})
        accuracy = {layer: test[f"test_acc{layer_suffix(layer)}"] for layer in layers}
        with atomic_dir(out) as tmp:
            save_probes(
                tmp / PROBES_FILE, model, layers, module.weights(), module.biases(), accuracy
            )
        tracked.record_output(out)
        key = {layer: f"layer_{layer:02d}" for layer in layers}
        summary = {
            "variant": probe_variant(model),
            "accuracy": {key[layer]: acc for layer, acc in accuracy.items()},
            "nodes": {key[layer]: node for layer, node in model.node_names(layers).items()},
            "features": {key[layer]: list(shapes[layer - 1]) for layer in layers},
        }
        tracked.log_artifact(write_json(Path(cfg.paths.metrics) / "probe.json", summary))
    return summary
