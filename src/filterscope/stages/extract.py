"""Stage 4: every filter's field matrix and single-filter accuracy (docs/method.md, Phase 3)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from filterscope.config import checked
from filterscope.outputs import atomic_dir, write_json
from filterscope.probing.extractor import FieldExtractor
from filterscope.progress import say
from filterscope.stages.artifacts import load_probes, probe_variant, probed_model
from filterscope.stages.fieldfiles import fields_file
from filterscope.stages.fitting import datamodule, measure
from filterscope.tracking import Upstream, stage_run


@checked
def run(cfg: Any) -> dict[str, Any]:
    """One pass over the test set; writes ``results/fields/layer_NN.npz`` per probed layer."""
    model, ckpt, layers = probed_model(cfg)
    probes = load_probes(cfg, model, layers)
    nodes = model.node_names(layers)
    module = FieldExtractor(
        model, probes["weights"], probes["biases"], channels_last=bool(cfg.train.channels_last)
    )
    loop = OmegaConf.merge(cfg.probe, {"batch_size": cfg.extract.batch_size, "augment": False})
    data = datamodule(cfg, loop)
    out = Path(cfg.paths.fields)
    with stage_run(cfg, "extract", Upstream("probe", Path(cfg.paths.probes))) as tracked:
        tracked.log_datasets(data.meta, Path(cfg.paths.prepared), ("test",))
        say("extract", f"fields of {len(layers)} layer(s): one float32 pass over the test set")
        start = time.perf_counter()
        measure(cfg, module, data, out.parent)
        seconds = time.perf_counter() - start
        say("extract", f"{data.split_size('test')} test images in {seconds:.1f} s")
        summary: dict[str, Any] = {
            "variant": probe_variant(model),
            "nodes": {f"layer_{layer:02d}": node for layer, node in nodes.items()},
            "probe_accuracy_from_fields": {},
            "filters": {},
        }
        with atomic_dir(out) as tmp:
            for layer in layers:
                acc = module.accumulators[layer]
                key = f"layer_{layer:02d}"
                summary["probe_accuracy_from_fields"][key] = module.probe_accuracy(layer)
                summary["filters"][key] = acc.num_filters
                np.savez_compressed(
                    tmp / fields_file(layer),
                    matrices=acc.field_matrices().cpu().numpy(),
                    single_filter_accuracy=acc.single_filter_accuracy().cpu().numpy(),
                    probe_accuracy=np.float64(module.probe_accuracy(layer)),
                    classes=np.array(ckpt["classes"]),
                    node=np.array(nodes[layer]),
                    variant=np.array(probe_variant(model)),
                )
        tracked.record_output(out)
        metrics_path = write_json(Path(cfg.paths.metrics) / "extract.json", summary)
        tracked.log_metrics(
            {
                f"probe_acc_from_fields_{k}": v
                for k, v in summary["probe_accuracy_from_fields"].items()
            }
        )
        tracked.log_artifact(metrics_path)
        tracked.log_artifact(out, "fields")
    return summary
