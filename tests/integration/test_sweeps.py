"""Hydra multirun sweeps: one MLflow run per job under the sweep's parent run, outputs per job."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from filterscope.stages import compare
from tests.helpers.browser import FLAGS, chromium
from tests.helpers.configs import config
from tests.helpers.mlflow_server import mlflow_server
from tests.helpers.sweeps import multirun, sweep_runs

pytestmark = pytest.mark.integration


def test_training_sweep_grid(mnist_root: Path) -> None:
    """Two learning rates, two seeds each (what `make sweep` does with SEEDS)."""
    proc = multirun(mnist_root, "train.py", "train.lr=0.1,0.001", "seed=0,1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    parent, children = sweep_runs(mnist_root, "train")
    assert parent.info.status == "FINISHED"
    assert "train.lr=0.1,0.001" in parent.data.tags["filterscope.sweep_overrides"]
    grid = {(c.data.params["train.lr"], c.data.params["seed"]) for c in children}
    assert grid == {("0.1", "0"), ("0.1", "1"), ("0.001", "0"), ("0.001", "1")}
    client = MlflowClient(f"sqlite:///{mnist_root}/mlflow.db")
    for child in children:
        assert child.info.status == "FINISHED"
        assert "train.lr=" in child.data.tags["filterscope.overrides"]
        for metric in ("train_loss", "train_acc", "val_loss", "val_acc", "seconds"):
            steps = [m.step for m in client.get_metric_history(child.info.run_id, metric)]
            assert steps == [1, 2], metric
        assert "test_acc" in child.data.metrics
        job_dir = Path(child.data.tags["filterscope.output_dir"])
        assert job_dir.parent.parent == mnist_root / "multirun"
        assert (job_dir / "models/backbone/backbone.pt").is_file()
        assert (job_dir / "plots/train_history.csv").is_file()
    assert not (mnist_root / "models").exists()  # never over the DVC outputs


def test_compare_builds_the_sweep_table(mnist_root: Path) -> None:
    parent, children = sweep_runs(mnist_root, "train")
    sweep = parent.info.run_id
    result = compare.run(config(mnist_root, f"compare.sweep={sweep}"))[sweep]
    out = mnist_root / "results/compare" / sweep
    table = pd.read_csv(out / "runs.csv", dtype={"train.lr": str})
    assert result["runs"] == len(table) == len(children) == 4
    assert {"train.lr", "seed", "test_acc", "best_val_epoch", "val_loss_rises_at"} <= set(
        table.columns
    )
    assert list(table["test_acc"]) == sorted(table["test_acc"], reverse=True)
    settings = pd.read_csv(out / "settings.csv", dtype={"train.lr": str})
    assert sorted(settings["train.lr"]) == ["0.001", "0.1"] and list(settings["n"]) == [2, 2]
    for lr, row in settings.set_index("train.lr").iterrows():
        accs = table.loc[table["train.lr"] == lr, "test_acc"]
        assert row["mean"] == pytest.approx(accs.mean()) and row["std"] == pytest.approx(accs.std())
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    assert result["best"]["train.lr"] == settings["train.lr"][0]  # the best mean first
    (test,) = pd.read_csv(out / "tests.csv").itertuples()
    assert {test.a, test.b} == {"train.lr=0.001", "train.lr=0.1"}
    assert test.p_holm == test.p or math.isnan(test.p)  # one pair: nothing to adjust
    assert (out / "curves_train.lr.png").is_file() and (out / "test_acc_vs_train.lr.png").is_file()
    assert not list(out.glob("*seed*"))  # seeds are replicates, not a swept parameter
    client = MlflowClient(f"sqlite:///{mnist_root}/mlflow.db")
    logged = {a.path for a in client.list_artifacts(sweep, "comparison")}
    assert {"comparison/runs.csv", "comparison/settings.md", "comparison/tests.md"} <= logged


def test_mlflow_ui_shows_the_sweep(mnist_root: Path, repo_root: Path) -> None:
    """A real `mlflow server` over the store, driven in headless Chromium (Debian's)."""
    from playwright.sync_api import sync_playwright

    parent, children = sweep_runs(mnist_root, "train")
    ids = [c.info.run_id for c in children]
    shots = repo_root / "test-artifacts"
    shots.mkdir(exist_ok=True)
    store = f"sqlite:///{mnist_root}/mlflow.db"
    with mlflow_server(store, mnist_root / "served-artifacts") as uri, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium()), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            experiment = parent.info.experiment_id
            page.goto(f"{uri}/#/experiments/{experiment}/runs", wait_until="domcontentloaded")
            page.get_by_text(parent.info.run_name).first.wait_for(timeout=60_000)
            page.screenshot(path=shots / "mlflow_ui_experiment.png")
            query = urlencode({"runs": json.dumps(ids), "experiments": json.dumps([experiment])})
            page.goto(f"{uri}/#/compare-runs?{query}", wait_until="domcontentloaded")
            page.get_by_text("test_acc", exact=True).first.wait_for(timeout=60_000)
            page.screenshot(path=shots / "mlflow_ui_compare.png", full_page=True)
            text = page.inner_text("body")
        finally:
            browser.close()
    assert f"Comparing {len(ids)} Runs" in text
    assert all(run_id in text for run_id in ids)
    assert "val_acc" in text and "train.lr" in text
    assert (shots / "mlflow_ui_compare.png").stat().st_size > 10_000


def test_a_sweep_started_again_resumes(mnist_root: Path) -> None:
    """The grid sweep again: its parent run reopens and only the job whose run failed reruns;
    ``resume=false`` starts a new sweep."""
    parent, before = sweep_runs(mnist_root, "train")
    client = MlflowClient(f"sqlite:///{mnist_root}/mlflow.db")
    lost = next(
        c for c in before if (c.data.params["train.lr"], c.data.params["seed"]) == ("0.1", "1")
    )
    client.set_terminated(lost.info.run_id, "FAILED")
    proc = multirun(mnist_root, "train.py", "train.lr=0.1,0.001", "seed=0,1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"resuming sweep {parent.info.run_id}" in proc.stderr
    assert proc.stderr.count(", skipped") == 3
    again, after = sweep_runs(mnist_root, "train")
    assert again.info.run_id == parent.info.run_id and again.info.status == "FINISHED"
    new = [c for c in after if c.info.run_id not in {b.info.run_id for b in before}]
    assert [(c.data.params["train.lr"], c.data.params["seed"]) for c in new] == [("0.1", "1")]
    assert new[0].info.status == "FINISHED"
    fresh = multirun(
        mnist_root, "train.py", "train.lr=0.1,0.001", "seed=0,1",
        "hydra.callbacks.mlflow_sweep.resume=false",
    )  # fmt: skip
    assert fresh.returncode == 0 and "skipped" not in fresh.stderr
    newest, children = sweep_runs(mnist_root, "train")
    assert newest.info.run_id != parent.info.run_id and len(children) == 4


def test_parallel_whole_chain_sweep_loses_no_run(mnist_root: Path) -> None:
    """Eight whole-chain jobs, two at a time, all writing to one SQLite store."""
    proc = multirun(
        mnist_root,
        "chain.py",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "train.lr=0.01,0.001",
        "model.dropout=0,0.5",
        "seed=0,1",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    parent, children = sweep_runs(mnist_root, "chain")
    assert parent.info.status == "FINISHED" and len(children) == 8
    for child in children:
        assert child.info.status == "FINISHED"
        metrics = child.data.metrics
        assert {"test_acc", "probe_accuracy", "snr_threshold", "probe_test_acc_layer_01"} <= set(
            metrics
        )
        job_dir = Path(child.data.tags["filterscope.output_dir"])
        assert (job_dir / "results/report/report.md").is_file()


def test_compare_draws_the_mechanism_of_a_chain_sweep(mnist_root: Path) -> None:
    """The whole-chain sweep above: the per-layer numbers per setting over its two seeds."""
    parent, children = sweep_runs(mnist_root, "chain")
    sweep = parent.info.run_id
    compare.run(config(mnist_root, f"compare.sweep={sweep}"))
    out = mnist_root / "results/compare" / sweep
    layers = pd.read_csv(out / "layers.csv", dtype={"train.lr": str, "model.dropout": str})
    assert len(layers) == len(children) == 8 and set(layers["layer"]) == {1}  # one conv layer
    for child in children:
        row = layers.set_index("run_id").loc[child.info.run_id]
        assert row["snr_threshold"] == pytest.approx(child.data.metrics["snr_threshold"])
    table = pd.read_csv(out / "mechanism.csv", dtype={"train.lr": str, "model.dropout": str})
    assert len(table) == 4 * 6 and set(table["n"]) == {2}  # 4 settings x 6 numbers, 2 seeds
    first = table[table["statistic"] == "probe_accuracy"].iloc[0]
    runs = layers[
        (layers["train.lr"] == first["train.lr"])
        & (layers["model.dropout"] == first["model.dropout"])
    ]
    assert first["mean"] == pytest.approx(runs["probe_accuracy"].mean())
    for param in ("train.lr", "model.dropout"):
        assert (out / f"mechanism_vs_{param}.png").stat().st_size > 10_000
    assert not (out / "mechanism_by_layer.png").exists()  # one layer: nothing to draw by layer


def test_a_label_subset_sweep_converts_each_jobs_subset(mnist_root: Path) -> None:
    """The number-of-labels study (make labels) on a tiny config: two 2-label subsets and one
    3-label subset, each job converting its own; compare.py sweeps K, subsets as replicates."""
    proc = multirun(
        mnist_root, "chain.py", "data.classes=[0,1],[3,8],[2,5,7]",
        "paths.prepared=${paths.root}/prepared", "data.train_limit=1200",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    parent, children = sweep_runs(mnist_root, "chain")
    assert len(children) == 3
    for child in children:
        subset = ast.literal_eval(child.data.params["data.classes"])
        prepared = Path(child.data.tags["filterscope.output_dir"]) / "prepared"
        meta = json.loads((prepared / "meta.json").read_text())
        assert meta["classes"] == [str(label) for label in subset]  # MNIST's names: "0".."9"
        assert meta["options"]["classes"] == subset
        report = json.loads((prepared.parent / "metrics/report.json").read_text())
        assert report["layers"]["layer_01"]["labels_in_clusters"] <= len(subset)
    sweep = parent.info.run_id
    compare.run(config(mnist_root, f"compare.sweep={sweep}"))
    out = mnist_root / "results/compare" / sweep
    means = pd.read_csv(out / "mechanism.csv")["mean"]
    assert (means[np.isfinite(means)] < 1e300).all()  # MLflow's stored infinity read back as inf
    settings = pd.read_csv(out / "settings.csv").sort_values("labels")
    assert list(settings["labels"]) == [2, 3] and list(settings["n"]) == [2, 1]
    assert (out / "test_acc_vs_labels.png").is_file() and (
        out / "mechanism_vs_labels.png"
    ).is_file()


def test_a_bad_value_fails_only_its_job(mnist_root: Path) -> None:
    proc = multirun(mnist_root, "train.py", "train.lr=0.01,-1")
    assert proc.returncode != 0
    assert "error: invalid config: train.lr=-1 (allowed: a number > 0)" in proc.stderr
    parent, children = sweep_runs(mnist_root, "train")
    status = {c.data.params["train.lr"]: c.info.status for c in children}
    assert status == {"0.01": "FINISHED", "-1": "FAILED"}
    assert parent.info.status == "FAILED"


def test_optuna_search_optimises_the_returned_objective(mnist_root: Path, tmp_path: Path) -> None:
    """Hydra's Optuna sweeper over a real training job: each trial returns its final validation
    accuracy (``objective``); Optuna's best value is the best trial's, its parameters in range."""
    sweep_dir = tmp_path / "optuna"
    proc = multirun(
        mnist_root,
        "train.py",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.direction=maximize",
        "hydra.sweeper.sampler.seed=0",
        "objective=final_val_acc",
        "train.lr=tag(log,interval(0.0001,0.01))",
        "model.dropout=interval(0,0.5)",
        f"hydra.sweep.dir={sweep_dir}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    trials = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/metrics/train.json"))]
    assert len(trials) == 3
    assert best["best_value"] == max(t["final_val_acc"] for t in trials)
    assert 0.0001 <= best["best_params"]["train.lr"] <= 0.01
    assert 0.0 <= best["best_params"]["model.dropout"] <= 0.5
    _, children = sweep_runs(mnist_root, "train")
    assert len(children) == 3 and {c.info.status for c in children} == {"FINISHED"}
    lrs = {float(c.data.params["train.lr"]) for c in children}
    assert len(lrs) == 3  # three different points of the search space


def test_an_objective_missing_from_the_result_fails_the_job(mnist_root: Path) -> None:
    proc = multirun(mnist_root, "train.py", "train.epochs=1", "objective=final_val_accuracy")
    assert proc.returncode != 0
    assert "objective='final_val_accuracy' is not in the stage's result" in proc.stderr
