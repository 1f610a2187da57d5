"""Compare the runs of a sweep: a table and figures, logged to the sweep's parent run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from filterscope.outputs import atomic_dir
from filterscope.report.figures import save
from filterscope.report.stats import LEVEL, aggregate, pairwise
from filterscope.report.sweep import (
    accuracy_vs_param,
    curves_by_param,
    layer_table,
    mechanism_by_layer,
    mechanism_table,
    mechanism_vs_param,
    pruning_summary,
    pruning_table,
    pruning_tests,
    summarise,
    swept_params,
    with_label_counts,
)
from filterscope.tracking import tracking_uri
from filterscope.tracking.query import newest_sweeps, sweep_histories
from filterscope.tracking.ui import link_comparison, ui_address


def _write(table: pd.DataFrame, path: Path) -> None:
    """``table`` as ``path``.csv and ``path``.md."""
    table.to_csv(path.with_suffix(".csv"), index=False)
    path.with_suffix(".md").write_text(table.to_markdown(index=False, floatfmt=".4g") + "\n")


def compare_sweep(
    uri: str, experiment: str, sweep_id: str, out: Path, server: str
) -> dict[str, Any]:
    """One sweep -> ``out``: ``runs`` (one row per run), ``settings`` (test accuracy per setting
    over its seeds: n, mean, std, 95% t interval), ``tests`` (Welch's t-test between every two
    settings, Holm-adjusted), each as .csv and .md; per swept param its curves and accuracy
    figures; for whole-chain sweeps the per-layer numbers (``layers``, ``mechanism``) and their
    figures against each swept param and, with several layers, against the layer; where the
    jobs pruned, each arm's numbers (``pruning_runs``, ``pruning``) and AFCC against each
    control on the same backbones (``pruning_tests``, paired). All logged to the sweep's parent
    run under ``comparison/``, and the parent linked to the UI page at ``server`` that compares
    the runs (:func:`~filterscope.tracking.ui.link_comparison`)."""
    from mlflow.tracking import MlflowClient

    runs = with_label_counts(sweep_histories(uri, experiment, sweep_id))
    table, swept = summarise(runs), swept_params(runs)
    settings = aggregate(table, swept).sort_values("mean", ascending=False, ignore_index=True)
    with atomic_dir(out) as tmp:
        _write(table, tmp / "runs")
        _write(settings, tmp / "settings")
        _write(pairwise(table, swept), tmp / "tests")
        for param in swept:
            save(curves_by_param(runs, param), tmp / f"curves_{param}.png")
            save(accuracy_vs_param(table, param, swept), tmp / f"test_acc_vs_{param}.png")
        layers = layer_table(runs)
        if not layers.empty:
            _write(layers, tmp / "layers")
            _write(mechanism_table(layers, swept), tmp / "mechanism")
            for param in swept:
                save(mechanism_vs_param(layers, param, swept), tmp / f"mechanism_vs_{param}.png")
            if layers["layer"].nunique() > 1:
                save(mechanism_by_layer(layers, swept), tmp / "mechanism_by_layer.png")
        pruned = pruning_table(runs)
        if not pruned.empty:
            _write(pruned, tmp / "pruning_runs")
            _write(pruning_summary(pruned, swept), tmp / "pruning")
            _write(pruning_tests(pruned, swept), tmp / "pruning_tests")
    MlflowClient(uri).log_artifacts(sweep_id, str(out), "comparison")
    url = link_comparison(uri, server, sweep_id)
    best = settings.iloc[0]
    return {
        "runs": len(table),
        "table": str(out / "settings.md"),
        "compare_url": url,
        "best": {
            **{p: best[p] for p in swept},
            "n": int(best["n"]),
            "test_acc": best["mean"],
            f"ci{int(LEVEL * 100)}": [best["ci_low"], best["ci_high"]],
        },  # fmt: skip
    }


def run(cfg: Any) -> dict[str, Any]:
    """Compare ``compare.sweep`` (a sweep's parent run id), or else each of the ``compare.last``
    newest sweeps, into ``results/compare/<sweep id>/``; print each one's address in the UI
    (at ``compare.ui``)."""
    uri = tracking_uri(cfg.tracking.uri)
    server = ui_address(uri, cfg.compare.get("ui"))
    experiment = str(cfg.tracking.experiment)
    sweeps = (
        [cfg.compare.sweep]
        if cfg.compare.sweep
        else newest_sweeps(uri, experiment, cfg.compare.last)
    )
    root = Path(cfg.paths.root) / "results" / "compare"
    return {s: compare_sweep(uri, experiment, s, root / s, server) for s in sweeps}
