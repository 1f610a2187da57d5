"""Stage 5: clusters, noise, SNR and figures per layer; ``metrics/report.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from filterscope.analysis.layer import LayerStats, analyse_layer
from filterscope.config import checked, resolve_layers
from filterscope.data.registry import get_spec
from filterscope.errors import ConfigError
from filterscope.models import build_model
from filterscope.outputs import atomic_dir, write_csv, write_json
from filterscope.report.build import filter_figures, layer_figures, markdown, table_rows
from filterscope.stages.extract import fields_file
from filterscope.tracking import stage_run


def _load_fields(directory: Path, layer: int) -> dict[str, np.ndarray]:
    path = directory / fields_file(layer)
    if not path.is_file():
        raise ConfigError(f"field matrices {path} are missing; run the extract stage first")
    with np.load(path) as npz:
        return {key: npz[key] for key in npz.files}


def _write_report(
    cfg: Any, per_layer: dict[int, dict[str, np.ndarray]], out: Path
) -> list[LayerStats]:
    """Analyse each layer's field matrices; write figures and report.md into ``out``."""
    theta = float(cfg.analysis.theta)
    stats, images = [], []
    for layer, fields in per_layer.items():
        classes = [str(c) for c in fields["classes"]]
        layer_stats, analyses = analyse_layer(
            layer,
            fields["matrices"],
            fields["single_filter_accuracy"],
            float(fields["probe_accuracy"]),
            theta,
        )
        stats.append(layer_stats)
        images += filter_figures(
            layer, fields["matrices"], analyses, classes, theta, out / "figures", seed=int(cfg.seed)
        )
    images = layer_figures(stats, classes, out / "figures") + images
    title = f"filterscope report: {cfg.model.name} on {cfg.data.name}"
    (out / "report.md").write_text(markdown(title, table_rows(stats), images, out))
    return stats


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Clusters, noise and SNR of every probed layer: report, figures, metrics, plots."""
    spec = get_spec(cfg.data.name)
    num_layers = build_model(cfg.model, spec.image_shape, len(spec.classes)).num_layers
    layers = resolve_layers(cfg.probe.layers, num_layers)
    fields_dir = Path(cfg.paths.fields)
    per_layer = {layer: _load_fields(fields_dir, layer) for layer in layers}
    out = Path(cfg.paths.report)
    with stage_run(cfg, "report", upstream=fields_dir) as tracked:
        with atomic_dir(out) as tmp:
            stats = _write_report(cfg, per_layer, tmp)
            tracked.record(tmp)
        rows = table_rows(stats)
        for row in rows:
            tracked.log_metrics({k: v for k, v in row.items() if k != "layer"}, step=row["layer"])
        summary = {
            "theta": float(cfg.analysis.theta),
            "layers": {f"layer_{s.layer:02d}": s.to_dict() for s in stats},
        }
        tracked.log_artifact(out, "report")
        tracked.log_artifact(write_json(Path(cfg.paths.metrics) / "report.json", summary))
        tracked.log_artifact(write_csv(Path(cfg.paths.plots) / "report_layers.csv", rows))
    return {
        "report": str(out / "report.md"),
        "snr_threshold": {f"layer_{r['layer']:02d}": r["snr_threshold"] for r in rows},
    }
