"""Stage 5: clusters, noise, SNR, AFCC and figures per layer; ``metrics/report.json`` and the
headline numbers in ``metrics/summary.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from filterscope.analysis.afcc import afcc_mask
from filterscope.analysis.layer import FilterAnalysis, LayerStats, analyse_layer
from filterscope.config import checked
from filterscope.errors import ConfigError
from filterscope.models import CutModel
from filterscope.outputs import atomic_dir, write_csv, write_json
from filterscope.probing.dilution import DilutedProbes
from filterscope.progress import say
from filterscope.report.build import (
    Afcc,
    filter_figures,
    headline,
    layer_figures,
    markdown,
    table_rows,
    unit_grid,
)
from filterscope.report.html import report_html
from filterscope.stages.artifacts import load_probes, probe_variant, probed_model
from filterscope.stages.fieldfiles import load_fields
from filterscope.stages.fitting import datamodule, measure
from filterscope.tracking import Upstream, stage_run

Analysed = Mapping[int, tuple[LayerStats, list[FilterAnalysis]]]
"""Each layer's statistics and per-filter analyses."""


def analyse(per_layer: Mapping[int, Mapping[str, np.ndarray]], theta: float) -> Analysed:
    """Statistics and filter analyses of every layer from its extracted fields."""
    return {
        layer: analyse_layer(
            layer,
            fields["matrices"],
            fields["single_filter_accuracy"],
            float(fields["probe_accuracy"]),
            theta,
        )
        for layer, fields in per_layer.items()
    }


def _run_summary(
    cfg: Any, ckpt: Mapping[str, Any], model: CutModel, layers: Sequence[int], test_images: int
) -> list[tuple[str, object]]:
    """The report's run summary, as (name, value) pairs (the backbone's test accuracy from its
    checkpoint ``ckpt``; where an imported model's head is new, that accuracy says so)."""
    accuracy = ckpt.get("test", {}).get("test_acc")
    imported = ckpt.get("imported") or {}
    source = imported.get("checkpoint") or imported.get("weights")
    if imported.get("head") == "new":
        accuracy = f"{accuracy:.3g} (imported {source} with a new, untrained head)"
    return [
        ("dataset", cfg.data.name),
        ("model", cfg.model.name + (f" (imported: {source})" if source else "")),
        ("profile", cfg.get("profile")),
        ("backbone test accuracy", accuracy),
        ("probe", probe_variant(model)),
        (
            "probed layers",
            ", ".join(f"{n} ({node})" for n, node in model.node_names(layers).items()),
        ),
        ("θ (threshold)", float(cfg.analysis.theta)),
        ("test images", test_images),
    ]


def write_report(
    cfg: Any,
    per_layer: Mapping[int, Mapping[str, np.ndarray]],
    analysed: Analysed,
    afcc: Mapping[int, Afcc],
    summary: Sequence[tuple[str, object]],
    out: Path,
) -> list[dict[str, float | str]]:
    """Figures, report.md and report.html into ``out``; returns the per-layer table rows."""
    theta = float(cfg.analysis.theta)
    stats = [layer_stats for layer_stats, _ in analysed.values()]
    classes = [str(c) for c in next(iter(per_layer.values()))["classes"]]
    nodes = {layer: str(fields["node"]) for layer, fields in per_layer.items()}
    sections = {"Per-layer figures": layer_figures(stats, afcc, classes, out / "figures", nodes)}
    for done, (layer, (_, analyses)) in enumerate(analysed.items(), 1):
        say("report", f"figures of layer {layer} ({nodes[layer]}) [{done}/{len(analysed)}]")
        sections[f"Layer {layer} ({nodes[layer]}): chosen filters"] = filter_figures(
            layer,
            per_layer[layer]["matrices"],
            analyses,
            classes,
            theta,
            out / "figures",
            seed=int(cfg.seed),
        ) + unit_grid(layer, analyses, classes, theta, out / "figures")
    rows = table_rows(stats, afcc, nodes)
    title = f"filterscope report: {cfg.model.name} on {cfg.data.name}"
    config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    (out / "report.md").write_text(markdown(title, rows, sections, out, summary=summary))
    (out / "report.html").write_text(report_html(title, summary, rows, sections, out, config_yaml))
    return rows


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Clusters, noise, SNR and AFCC of every probed layer: report, figures, metrics, plots."""
    fields_dir = Path(cfg.paths.fields)
    if not fields_dir.is_dir():  # the direct input first, then the backbone and probes
        raise ConfigError(f"field matrices {fields_dir} are missing; run the extract stage first")
    model, ckpt, layers = probed_model(cfg)
    nodes = model.node_names(layers)
    per_layer = {layer: load_fields(fields_dir, layer, nodes[layer]) for layer in layers}
    say("report", f"clusters, noise and SNR of {len(layers)} layer(s)")
    analysed = analyse(per_layer, float(cfg.analysis.theta))
    probes = load_probes(cfg, model, layers)
    keep = {
        layer: afcc_mask(analyses, len(ckpt["classes"]))
        for layer, (_, analyses) in analysed.items()
    }
    module = DilutedProbes(model, probes["weights"], probes["biases"], keep, cfg.probe)
    data = datamodule(cfg, cfg.probe)
    out = Path(cfg.paths.report)
    with stage_run(cfg, "report", Upstream("extract", fields_dir)) as tracked:
        tracked.log_datasets(data.meta, Path(cfg.paths.prepared), ("test",))
        say("report", "AFCC: the diluted probes' accuracy on the test set")
        measure(cfg, module, data, out.parent)
        accuracy = module.test_accuracy()
        afcc = {layer: Afcc(accuracy[layer], module.kept_fraction[layer]) for layer in layers}
        summary = _run_summary(cfg, ckpt, model, layers, data.split_size("test"))
        with atomic_dir(out) as tmp:
            rows = write_report(cfg, per_layer, analysed, afcc, summary, tmp)
        tracked.record_output(out)
        for row in rows:  # the layer's size (filters) is a tag, its numbers are metrics
            metrics = {k: v for k, v in row.items() if k not in ("layer", "node", "filters")}
            tracked.log_metrics(metrics, step=int(row["layer"]))
        tracked.set_tag("filterscope.filters", ",".join(str(row["filters"]) for row in rows))
        metrics = {
            "theta": float(cfg.analysis.theta),
            "variant": probe_variant(model),
            "nodes": {f"layer_{layer:02d}": node for layer, node in nodes.items()},
            "layers": {
                f"layer_{s.layer:02d}": s.to_dict() | afcc[s.layer].to_dict()
                for s, _ in analysed.values()
            },
        }
        tracked.log_artifact(out, "report")
        tracked.log_artifact(write_json(Path(cfg.paths.metrics) / "report.json", metrics))
        summed = headline(rows, ckpt.get("test", {}).get("test_acc"))
        tracked.log_artifact(write_json(Path(cfg.paths.metrics) / "summary.json", summed))
        tracked.log_artifact(write_csv(Path(cfg.paths.plots) / "report_layers.csv", rows))
        say("report", f"done: {out / 'report.html'}")
    return {
        "report": str(out / "report.md"),
        "report_html": str(out / "report.html"),
        "snr_threshold": {f"layer_{r['layer']:02d}": r["snr_threshold"] for r in rows},
        "afcc_accuracy": {f"layer_{r['layer']:02d}": r["afcc_accuracy"] for r in rows},
    }
