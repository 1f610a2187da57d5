"""Stage 6: prune by the filters' clusters (AFCC, arXiv 2501.12880), with its controls at exactly
the same number of connections per site, each network fine-tuned with its masks held."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from torch import nn

from filterscope.analysis.layer import analyse_filter
from filterscope.config import checked
from filterscope.models import CutModel
from filterscope.outputs import atomic_dir, write_csv, write_json
from filterscope.progress import say
from filterscope.pruning.arms import Arm, build_arms
from filterscope.pruning.finetune import FineTune, apply_masks
from filterscope.pruning.hold import release
from filterscope.pruning.sites import Plan, plan
from filterscope.report.build import markdown
from filterscope.report.html import report_html
from filterscope.report.pruning import label_order, prune_figures, site_column, table_columns
from filterscope.stages.artifacts import PRUNED_FILE, probed_model, save_pruned
from filterscope.stages.fieldfiles import load_fields
from filterscope.stages.fitting import datamodule, fit_and_test, fitting_stage, measure
from filterscope.tracking import StageRun, Upstream
from filterscope.training.datamodule import TensorDataModule

MASKS_FILE = "masks.npz"
# The fine-tuning loop's keys, from prune.* (devices, precision, memory format from train.*).
LOOP_KEYS = (
    "epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
    "schedule", "lr_decay", "augment", "max_shift",
)  # fmt: skip
# Each arm's numbers logged as metrics of the stage's run (``<arm>_<key>``).
LOGGED = ("kept_fraction", "pruned_acc", "finetuned_acc")


def thetas(cfg: Any) -> list[float]:
    """``prune.thetas``, or ``[analysis.theta]`` when it is null."""
    chosen = cfg.prune.thetas
    return [float(t) for t in (chosen if chosen is not None else [cfg.analysis.theta])]


def one_device(cfg: Any) -> Any:
    """``cfg`` on one device: the stage fine-tunes several networks in turn, which a DDP launch
    (one process per device, each rerunning the script) cannot share."""
    return OmegaConf.merge(cfg, {"train": {"devices": 1, "num_nodes": 1, "strategy": "auto"}})


def finetune_loop(cfg: Any) -> Any:
    """The fine-tuning loop: ``prune``'s recipe on ``train``'s device, precision and memory
    format; none of the backbone's training extras (early stopping, label smoothing, weight
    averaging, Cutout), no ``torch.compile`` (pruning's hooks run on every forward)."""
    loop = OmegaConf.merge(
        cfg.train,
        {key: cfg.prune[key] for key in LOOP_KEYS},
        {
            "compile": False,
            "early_stop": {"monitor": None},
            "label_smoothing": 0.0,
            "ema": None,
            "cutout": 0,
        },
    )
    loop.trainer = cfg.prune.trainer
    return loop


@dataclass
class Setup:
    """What the stage prunes: the sites, the thresholds, each threshold's clusters of the layers
    the sites join, and the arms built on them."""

    found: Plan
    thetas: list[float]
    clusters: dict[float, dict[int, list]]
    arms: list[Arm]
    num_classes: int


def _setup(cfg: Any, model: CutModel, ckpt: Mapping[str, Any], layers: list[int]) -> Setup:
    """The sites ``prune.pairs`` and ``prune.head`` name, and the arms of ``prune.methods``."""
    num_classes = len(ckpt["classes"])
    found = plan(
        model, ckpt["image_shape"], layers, num_classes, cfg.prune.pairs, bool(cfg.prune.head)
    )
    for reason in found.skipped:
        say("prune", f"left out: {reason}")
    chosen = thetas(cfg)
    needed = sorted({layer for site in found.sites for layer in site.layers})
    clusters = _clusters(cfg, model, needed, chosen)
    arms = build_arms(
        list(cfg.prune.methods),
        chosen,
        found.sites,
        clusters,
        _site_weights(model.model, found),
        num_classes,
        str(cfg.prune.unclustered),
        int(cfg.prune.seed),
    )
    if not arms:
        say("prune", "nothing to prune on this model: writing the reasons, fine-tuning nothing")
    return Setup(found, chosen, clusters, arms, num_classes)


def _afcc_network(arm: Arm, row: Mapping[str, Any], network: nn.Module) -> dict[str, Any]:
    """An AFCC arm's fine-tuned network as ``models/pruned`` keeps it."""
    return {
        "theta": arm.theta,
        "test_acc": row["finetuned_acc"],
        "masks": {name: torch.as_tensor(m) for name, m in arm.masks.items()},
        "state_dict": network.state_dict(),
    }


def _clusters(
    cfg: Any, model: CutModel, layers: Sequence[int], chosen: Sequence[float]
) -> dict[float, dict[int, list]]:
    """Each threshold's clusters of every filter of ``layers``, from the extracted fields."""
    nodes = model.node_names(layers)
    matrices = {
        layer: load_fields(Path(cfg.paths.fields), layer, nodes[layer])["matrices"]
        for layer in layers
    }
    return {
        theta: {
            layer: [analyse_filter(m, theta).clusters for m in matrices[layer]] for layer in layers
        }
        for theta in chosen
    }


def _site_weights(backbone: nn.Module, found: Plan) -> dict[str, np.ndarray]:
    """Each site's trained weight as ``(out, in, per_connection)`` (magnitude pruning's input)."""
    weights = {}
    for target in found.targets:
        weight = backbone.get_submodule(target.module).weight.detach().float().cpu()
        weights[target.site.name] = weight.reshape(weight.shape[0], -1, target.per_connection)
    return {name: w.numpy() for name, w in weights.items()}


def _accuracy(cfg: Any, module: FineTune, data: TensorDataModule) -> float:
    """Test accuracy of ``module``, measured in float32."""
    measure(cfg, module, data, Path(cfg.paths.prune).parent)
    return float(module.tested["test_acc"])


def _fine_tune(
    cfg: Any,
    loop: Any,
    arm: Arm,
    backbone: nn.Module,
    found: Plan,
    data: TensorDataModule,
    tracked: StageRun,
    resume: Path,
    num_classes: int,
) -> tuple[dict[str, Any], nn.Module]:
    """Prune a copy of ``backbone`` with ``arm``'s masks, score it, fine-tune it with the masks
    held, score it again; returns its row and the fine-tuned network (masks made permanent)."""
    network = copy.deepcopy(backbone)
    modules = {target.site.name: target.module for target in found.targets}
    apply_masks(network, modules, arm.masks)
    ends = sorted({end for target in found.targets for end in target.ends})
    trainable = None if cfg.prune.finetune == "all" else ends
    module = FineTune(network, loop, num_classes, trainable)
    pruned = _accuracy(cfg, module, data)
    say("prune", f"{arm.name}: test accuracy {pruned:.4f} right after pruning; fine-tuning")
    fit_and_test(
        cfg, loop, module, data, tracked, resume / arm.name, f"{arm.name}_", history_csv=False
    )
    tuned = _accuracy(cfg, module, data)
    say("prune", f"{arm.name}: test accuracy {tuned:.4f} after fine-tuning")
    for name in arm.masks:
        release(network.get_submodule(modules[name]))
    per_connection = {target.site.name: target.per_connection for target in found.targets}
    kept = arm.kept(per_connection)
    row = {
        "arm": arm.name,
        "method": arm.method,
        "theta": arm.theta,
        "kept_fraction": kept["all"],
        "pruned_acc": pruned,
        "finetuned_acc": tuned,
        **{site_column(t.site.name): kept.get(t.site.name, 1.0) for t in found.targets},
    }
    return row, network.cpu()


def plot_fields(methods: Sequence[str]) -> list[str]:
    """The columns of ``plots/prune.csv`` (a file without rows still has them)."""
    pruned = [m for m in methods if m != "dense"]
    return [
        "theta",
        "kept_fraction",
        "unpruned",
        *[f"{m}_{when}" for m in pruned for when in ("pruned", "finetuned")],
    ]


def _plot_rows(rows: Sequence[Mapping[str, Any]], unpruned: float) -> list[dict[str, Any]]:
    """``plots/prune.csv``: one row per threshold (every method keeps as many weights there),
    each method's accuracy right after pruning and after fine-tuning."""
    out: dict[float, dict[str, Any]] = {}
    for row in rows:
        if row["theta"] is None:
            continue
        line = out.setdefault(
            row["theta"],
            {"theta": row["theta"], "kept_fraction": row["kept_fraction"], "unpruned": unpruned},
        )
        line[f"{row['method']}_pruned"] = row["pruned_acc"]
        line[f"{row['method']}_finetuned"] = row["finetuned_acc"]
    return [out[theta] for theta in sorted(out)]


def _headline(rows: Sequence[Mapping[str, Any]], unpruned: float) -> dict[str, Any]:
    """``metrics/prune.json`` (DVC metrics): the unpruned accuracy, then per arm the weights kept
    and the accuracy after fine-tuning."""
    return {
        "unpruned_acc": unpruned,
        **{
            row["arm"]: {"kept_fraction": row["kept_fraction"], "acc": row["finetuned_acc"]}
            for row in rows
        },
    }


def _summary(cfg: Any, setup: Setup, unpruned: float, test_images: int) -> list[tuple[str, object]]:
    found = setup.found
    pruned = ", ".join(f"{t.site.name} ({t.module})" for t in found.targets)
    return [
        ("dataset", cfg.data.name),
        ("model", cfg.model.name),
        ("backbone test accuracy (float32)", unpruned),
        ("pruned sites", pruned or "none"),
        ("left out", "; ".join(found.skipped) or "none"),
        ("thresholds θ", ", ".join(f"{t:g}" for t in setup.thetas)),
        ("filters without a cluster", str(cfg.prune.unclustered)),
        ("fine-tuned", f"{cfg.prune.finetune} layers, {cfg.prune.epochs} epoch(s)"),
        ("test images", test_images),
    ]


def _shown_masks(setup: Setup) -> tuple[str, dict[str, np.ndarray], np.ndarray, np.ndarray] | None:
    """The deepest conv pair's (else the head's) masks at the first threshold, per method, with
    rows and columns ordered by the AFCC clusters' labels."""
    found, arms, k = setup.found, setup.arms, setup.num_classes
    if not found.targets:
        return None
    site = next((s for s in found.sites if s.target is not None), found.sites[0])
    first = next(arm.theta for arm in arms if arm.theta is not None)
    masks = {a.method: a.masks[site.name] for a in arms if a.theta == first}
    by_layer = setup.clusters[first]
    rows = label_order(by_layer[site.target], k) if site.target else np.arange(k)
    return site.name, masks, rows, label_order(by_layer[site.source], k)


def _write_results(
    tmp: Path,
    cfg: Any,
    setup: Setup,
    rows: Sequence[Mapping[str, Any]],
    unpruned: float,
    test_images: int,
) -> None:
    """``results/prune`` into ``tmp``: every arm's masks, the figures, prune.md and prune.html."""
    arms = setup.arms
    np.savez_compressed(
        tmp / MASKS_FILE, **{f"{a.name}/{site}": m for a in arms for site, m in a.masks.items()}
    )
    dense = next((r["finetuned_acc"] for r in rows if r["method"] == "dense"), None)
    figures = prune_figures(rows, unpruned, dense, _shown_masks(setup), tmp / "figures")
    sections = {"Pruning": figures}
    columns = table_columns([site.name for site in setup.found.sites])
    title = f"filterscope pruning: {cfg.model.name} on {cfg.data.name}"
    summary = _summary(cfg, setup, unpruned, test_images)
    md = markdown(title, rows, sections, tmp, list(columns), summary)
    (tmp / "prune.md").write_text(md)
    note = (
        "Every control keeps exactly as many connections per site as AFCC at the same θ;"
        " accuracies are measured in float32 on the whole test set."
    )
    config = OmegaConf.to_yaml(cfg, resolve=True)
    html = report_html(title, summary, rows, sections, tmp, config, ("Arms", columns, note))
    (tmp / "prune.html").write_text(html)


def _log_outputs(
    cfg: Any, tracked: StageRun, rows: Sequence[Mapping[str, Any]], unpruned: float
) -> None:
    """The results folder, ``metrics/prune.json`` and ``plots/prune.csv``, into the run."""
    out = Path(cfg.paths.prune)
    tracked.record_output(out)
    tracked.log_artifact(out, "prune")
    metrics = Path(cfg.paths.metrics) / "prune.json"
    tracked.log_artifact(write_json(metrics, _headline(rows, unpruned)))
    plots = Path(cfg.paths.plots) / "prune.csv"
    fields = plot_fields(cfg.prune.methods)
    tracked.log_artifact(write_csv(plots, _plot_rows(rows, unpruned), fields))


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Prune the configured sites by AFCC and its controls, fine-tune every arm, and write the
    comparison: ``results/prune`` (masks, figures, prune.md/html), ``models/pruned`` (the
    fine-tuned AFCC networks), ``metrics/prune.json`` and ``plots/prune.csv``."""
    cfg = one_device(cfg)
    model, ckpt, layers = probed_model(cfg)
    setup = _setup(cfg, model, ckpt, layers)
    backbone, num_classes = model.model, setup.num_classes
    loop = finetune_loop(cfg)
    data = datamodule(cfg, loop, "prune")
    upstream = Upstream("extract", Path(cfg.paths.fields))
    with fitting_stage(cfg, "prune", upstream) as (tracked, resume):
        tracked.log_datasets(data.meta, Path(cfg.paths.prepared), ("train", "test"))
        unpruned = _accuracy(cfg, FineTune(copy.deepcopy(backbone), loop, num_classes), data)
        arms = setup.arms
        say("prune", f"unpruned test accuracy {unpruned:.4f}; {len(arms)} network(s) to fine-tune")
        rows: list[dict[str, Any]] = []
        networks: dict[str, Any] = {}
        for done, arm in enumerate(arms, 1):
            say("prune", f"[{done}/{len(arms)}] {arm.name}")
            row, network = _fine_tune(
                cfg, loop, arm, backbone, setup.found, data, tracked, resume, num_classes
            )
            rows.append(row)
            tracked.log_metrics({f"{arm.name}_{key}": row[key] for key in LOGGED})
            if arm.method == "afcc":
                networks[arm.name] = _afcc_network(arm, row, network)
        sites = {t.site.name: t.module for t in setup.found.targets}
        with atomic_dir(Path(cfg.paths.prune)) as tmp, atomic_dir(Path(cfg.paths.pruned)) as nets:
            _write_results(tmp, cfg, setup, rows, unpruned, data.split_size("test"))
            save_pruned(nets / PRUNED_FILE, cfg, ckpt, sites, networks)
        _log_outputs(cfg, tracked, rows, unpruned)
        say("prune", f"done: {Path(cfg.paths.prune) / 'prune.html'}")
    return {"unpruned_acc": unpruned, "arms": rows, "skipped": setup.found.skipped}
