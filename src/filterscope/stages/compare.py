"""Compare the runs of a sweep: a table and figures, logged to the sweep's parent run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filterscope.outputs import atomic_dir
from filterscope.report.figures import save
from filterscope.report.sweep import accuracy_vs_param, curves_by_param, summarise, swept_params
from filterscope.tracking import tracking_uri
from filterscope.tracking.query import newest_sweeps, sweep_histories


def compare_sweep(uri: str, experiment: str, sweep_id: str, out: Path) -> dict[str, Any]:
    """One sweep -> ``out``: runs.csv, runs.md and, per swept param, its curves and accuracy
    figures; all logged to the sweep's parent run under ``comparison/``."""
    from mlflow.tracking import MlflowClient

    runs = sweep_histories(uri, experiment, sweep_id)
    table = summarise(runs)
    with atomic_dir(out) as tmp:
        table.to_csv(tmp / "runs.csv", index=False)
        (tmp / "runs.md").write_text(table.to_markdown(index=False, floatfmt=".4g") + "\n")
        for param in swept_params(runs):
            save(curves_by_param(runs, param), tmp / f"curves_{param}.png")
            save(accuracy_vs_param(table, param), tmp / f"test_acc_vs_{param}.png")
    MlflowClient(uri).log_artifacts(sweep_id, str(out), "comparison")
    return {"runs": len(table), "table": str(out / "runs.md"), "best": table.iloc[0].to_dict()}


def run(cfg: Any) -> dict[str, Any]:
    """Compare ``compare.sweep`` (a sweep's parent run id), or else each of the ``compare.last``
    newest sweeps, into ``results/compare/<sweep id>/``."""
    uri = tracking_uri(cfg.tracking.uri)
    experiment = str(cfg.tracking.experiment)
    sweeps = (
        [cfg.compare.sweep]
        if cfg.compare.sweep
        else newest_sweeps(uri, experiment, cfg.compare.last)
    )
    root = Path(cfg.paths.root) / "results" / "compare"
    return {s: compare_sweep(uri, experiment, s, root / s) for s in sweeps}
