"""The real pipeline under `dvc repro` on mirror data, checked via its files and MLflow."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

from filterscope.analysis.layer import analyse_filter
from filterscope.params import params_match_conf
from filterscope.pruning.rules import Site, afcc_masks
from tests.helpers.imports import REPO, import_closure, is_output_neutral
from tests.helpers.pipeline_copy import make_project, run

pytestmark = pytest.mark.integration

STAGES = ["download", "train", "probe", "extract", "report", "prune"]
# The chain of stages; prune reads the fields beside the report (not the report itself).
CHAIN = STAGES[:5]
LAYERS = [1, 2, 13]
EPOCHS = 2
GIT_USER = ["-c", "user.name=t", "-c", "user.email=t@t"]
# What `dvc repro` leaves in a project: cached outputs (go through the DVC remote) and the
# `cache: false` metrics and plots (go through git, next to dvc.lock).
OUTPUT_DIRS = ["data/prepared", "models", "results", "metrics", "plots"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, repo_root: Path, mirror_dir: Path) -> Path:
    values = {
        "data": {
            "source": str(mirror_dir / "cifar10-subset"),
            "train_limit": 800,
            "test_limit": 300,
        },
        "model": {"width": 0.125},
        "train": {"epochs": EPOCHS},
        "runtime": {"progress": False},
        "probe": {"epochs": 1, "layers": LAYERS},
        "prune": {"epochs": 1},
    }
    dest = tmp_path_factory.mktemp("pipeline") / "project"
    make_project(repo_root, dest, {"data": "cifar10_subset"}, values)
    run(["dvc", "repro"], dest)
    return dest


def test_every_stage_writes_its_outputs(project: Path) -> None:
    for path in [
        "data/prepared/cifar10/train.pt",
        "data/prepared/cifar10/meta.json",
        "models/backbone/backbone.pt",
        "models/probes/probes.pt",
        "results/report/report.md",
        "results/report/report.html",
        "metrics/train.json",
        "metrics/probe.json",
        "metrics/report.json",
        "plots/train_history.csv",
        "plots/report_layers.csv",
    ]:
        assert (project / path).is_file(), path
    for layer in LAYERS:
        with np.load(project / f"results/fields/layer_{layer:02d}.npz") as fields:
            matrices = fields["matrices"]
            assert matrices.shape[1:] == (10, 10)
            assert fields["single_filter_accuracy"].shape == (matrices.shape[0],)
    figures = sorted(p.name for p in (project / "results/report/figures").glob("*.png"))
    assert "afcc.png" in figures
    html = (project / "results/report/report.html").read_text()
    assert all(f'<img src="figures/{name}"' in html for name in figures)


def test_dvc_shows_the_headline_metrics_and_the_report_figures(project: Path) -> None:
    """`dvc metrics show` (and so `dvc exp show`) lists the training and summary numbers, not
    every layer's; `dvc plots show` has the report's figures as images."""
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    (files,) = (entry["data"] for entry in shown.values())  # the workspace
    assert set(files) == {"metrics/train.json", "metrics/summary.json", "metrics/prune.json"}
    summary = files["metrics/summary.json"]["data"]
    report = json.loads((project / "metrics/report.json").read_text())["layers"]
    last = report[f"layer_{LAYERS[-1]:02d}"]
    assert summary["layers"] == len(LAYERS)
    assert summary["probe_acc_first"] == report["layer_01"]["probe_accuracy"]
    assert summary["probe_acc_last"] == last["probe_accuracy"]
    assert summary["snr_last"] == last["snr_threshold"]["ratio"]
    assert summary["afcc_acc_last"] == last["afcc_accuracy"]
    train = json.loads((project / "metrics/train.json").read_text())
    assert summary["test_acc"] == train["test_acc"]
    plots = json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)["data"]
    images = {path for path, entries in plots.items() if entries[0].get("type") == "image"}
    figures = {
        p.relative_to(project).as_posix()
        for folder in ("results/report/figures", "results/prune/figures")
        for p in (project / folder).glob("*.png")
    }
    assert "results/prune/figures/accuracy_vs_kept.png" in figures
    assert images == figures and any(name.endswith("_field.png") for name in images)


def test_fields_rebuild_the_probe_exactly(project: Path) -> None:
    probe = json.loads((project / "metrics/probe.json").read_text())["accuracy"]
    from_fields = json.loads((project / "metrics/extract.json").read_text())
    assert from_fields["probe_accuracy_from_fields"] == pytest.approx(probe, abs=1e-9)


def test_report_metrics_hold_every_layer_statistic(project: Path) -> None:
    report = json.loads((project / "metrics/report.json").read_text())
    assert report["theta"] == 0.3
    assert sorted(report["layers"]) == [f"layer_{layer:02d}" for layer in LAYERS]
    for stats in report["layers"].values():
        for key in (
            "probe_accuracy",
            "noise_per_filter",
            "label_coverage_cv",
            "clusters_per_filter",
            "afcc_accuracy",
            "afcc_kept_fraction",
        ):
            assert key in stats
        assert set(stats["snr_threshold"]) == {"signal", "noise", "ratio", "per_label"}
        assert len(stats["snr_cluster"]["per_label"]) == 10
        assert 0.0 <= stats["afcc_accuracy"] <= 1.0
        assert 0.0 <= stats["afcc_kept_fraction"] <= 1.0
    header = (project / "plots/report_layers.csv").read_text().splitlines()[0].split(",")
    assert {"afcc_accuracy", "afcc_kept_fraction"} <= set(header)
    assert (project / "results/report/report.html").is_file()


def test_prune_compares_afcc_with_its_controls_at_the_same_sparsity(project: Path) -> None:
    """The deepest probed pair (1 -> 2) and the head on layer 13: AFCC's masks are the rule on
    the clusters of the extracted fields, every control keeps as many connections per site,
    and the saved AFCC network holds exact zeros where its masks say."""
    sites = [Site(13), Site(1, 2)]
    clusters = {}
    for layer in (1, 2, 13):
        with np.load(project / f"results/fields/layer_{layer:02d}.npz") as fields:
            clusters[layer] = [analyse_filter(m, 0.3).clusters for m in fields["matrices"]]
    expected = afcc_masks(sites, clusters, 10)
    with np.load(project / "results/prune/masks.npz") as npz:
        masks = {key: npz[key] for key in npz.files}
    arms = ("afcc_theta_0.30", "random_theta_0.30", "magnitude_theta_0.30")
    assert set(masks) == {f"{arm}/{site.name}" for arm in arms for site in sites}
    for site in sites:
        np.testing.assert_array_equal(masks[f"afcc_theta_0.30/{site.name}"], expected[site.name])
        kept = {int(masks[f"{arm}/{site.name}"].sum()) for arm in arms}
        assert kept == {int(expected[site.name].sum())}
    headline = json.loads((project / "metrics/prune.json").read_text())
    assert set(headline) == {"unpruned_acc", "dense", *arms}
    assert len({headline[arm]["kept_fraction"] for arm in arms}) == 1
    assert headline["dense"]["kept_fraction"] == 1.0
    saved = torch.load(project / "models/pruned/afcc.pt", weights_only=True)
    assert saved["sites"] == {"head_13": "head.1", "pair_01_02": "blocks.1.0"}
    network = saved["networks"]["afcc_theta_0.30"]
    conv = network["state_dict"]["blocks.1.0.weight"]  # (out of layer 2, in of layer 1, 3, 3)
    dropped = ~torch.as_tensor(expected["pair_01_02"])
    assert (conv[dropped] == 0).all() and (conv[~dropped] != 0).any()
    assert network["test_acc"] == headline["afcc_theta_0.30"]["acc"]
    rows = (project / "plots/prune.csv").read_text().splitlines()
    assert rows[0].split(",")[:3] == ["theta", "kept_fraction", "unpruned"] and len(rows) == 2
    html = (project / "results/prune/prune.html").read_text()
    assert '<img src="figures/accuracy_vs_kept.png"' in html
    assert '<img src="figures/masks_pair_01_02.png"' in html


def test_dag_chain_and_nothing_to_do_twice(project: Path) -> None:
    dag = run(["dvc", "dag", "--md"], project).stdout
    names = dict(re.findall(r'(node\d+)\["?(\w+)"?\]', dag))
    edges = {(names[a], names[b]) for a, b in re.findall(r"(node\d+)-->(node\d+)", dag)}
    assert set(zip(CHAIN, CHAIN[1:], strict=False)) <= edges
    assert {("extract", "prune"), ("train", "prune")} <= edges
    assert "up to date" in run(["dvc", "repro"], project).stdout


def test_mlflow_holds_one_tied_run_per_stage(project: Path) -> None:
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("filterscope")
    runs = client.search_runs([experiment.experiment_id])
    by_stage = {r.data.tags["filterscope.stage"]: r for r in runs}
    assert sorted(by_stage) == sorted(STAGES) and len(runs) == len(STAGES)
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert len({r.data.tags["filterscope.pipeline_id"] for r in runs}) == 1
    # named by stage, dataset and model; the hyper-parameters as params, the folder as a tag
    assert {r.info.run_name for r in runs} == {f"{stage}-cifar10-vgg" for stage in STAGES}
    neutral = ("paths.", "runtime.", "tracking.", "compare.", "chain.", "profile", "objective")
    assert not [k for r in runs for k in r.data.params if k.startswith(neutral)]
    assert {r.data.tags["filterscope.output_dir"] for r in runs} == {str(project.resolve())}
    root = by_stage["download"].info.run_id  # the pipeline's first run: its id is the pipeline's
    assert by_stage["download"].data.tags["filterscope.pipeline_id"] == root
    assert "mlflow.parentRunId" not in by_stage["download"].data.tags
    assert {by_stage[s].data.tags["mlflow.parentRunId"] for s in STAGES[1:]} == {root}
    assert all(r.data.tags.get("mlflow.source.git.commit") for r in runs)
    # MLflow's own provenance: who ran which script (the UI's "User" and "Source" columns)
    assert {r.data.tags["mlflow.source.name"].rsplit("/", 1)[-1] for r in runs} == {
        f"{stage}.py" for stage in STAGES
    }
    assert all(r.data.tags.get("mlflow.user") for r in runs)
    # the prepared data as MLflow dataset inputs, with the checksums the download recorded
    meta = json.loads((project / "data/prepared/cifar10/meta.json").read_text())
    for stage, splits in (("train", {"train", "test"}), ("report", {"test"})):
        inputs = client.get_run(by_stage[stage].info.run_id).inputs.dataset_inputs
        found = {d.dataset.name: (d.dataset.digest, d.tags[0].value) for d in inputs}
        contexts = {"train": "training", "test": "testing"}
        assert found == {f"cifar10/{s}": (meta["sha256"][s][:32], contexts[s]) for s in splits}
    train = by_stage["train"]
    assert train.data.params["train.lr"] == "0.1" and train.data.params["model.width"] == "0.125"
    assert train.data.tags["filterscope.upstream_run_id"] == by_stage["download"].info.run_id
    history = client.get_metric_history(train.info.run_id, "val_acc")
    assert [m.step for m in history] == list(range(1, EPOCHS + 1))
    assert "test_acc" in train.data.metrics
    report = by_stage["report"]
    steps = [m.step for m in client.get_metric_history(report.info.run_id, "snr_threshold")]
    assert steps == LAYERS

    def artifacts(run_id: str, path: str | None = None) -> set[str]:
        return {a.path for a in client.list_artifacts(run_id, path)}

    for r in runs:
        assert "config.yaml" in artifacts(r.info.run_id)
    assert "report/report.md" in artifacts(report.info.run_id, "report")
    assert "fields/layer_01.npz" in artifacts(by_stage["extract"].info.run_id, "fields")
    assert "checkpoint/backbone.pt" in artifacts(train.info.run_id, "checkpoint")


def _checksums(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in OUTPUT_DIRS
        for path in sorted((root / folder).rglob("*"))
        if path.is_file() and path.name != ".gitignore"
    }


def test_a_second_clone_pulls_the_results_without_retraining(project: Path, tmp_path: Path) -> None:
    """`dvc push` to a local-folder remote; a `git clone` + `dvc pull` elsewhere gets the same
    bytes, and `dvc repro` there has nothing to run. Works on a copy, so test order is free."""
    first, second, remote = tmp_path / "first", tmp_path / "second", tmp_path / "remote"
    # Leave out local state: the MLflow store and .dvc/tmp (locks, hash state, experiments).
    skip = {str(project): {"mlflow.db", "mlartifacts", "mlruns"}, str(project / ".dvc"): {"tmp"}}
    shutil.copytree(project, first, symlinks=True, ignore=lambda d, names: skip.get(d, set()))
    run(["dvc", "remote", "add", "-d", "storage", str(remote)], first)
    run(["git", "add", "-A"], first)
    run(["git", *GIT_USER, "commit", "-qm", "results and remote"], first)
    run(["dvc", "push"], first)
    assert "in sync" in run(["dvc", "status", "--cloud"], first).stdout

    run(["git", "clone", "-q", str(first), str(second)], tmp_path)
    tracked = set(run(["git", "ls-files"], second).stdout.split())
    # dvc.lock, the remote's config and the `cache: false` metrics/plots travel through git ...
    assert {".dvc/config", "dvc.lock", "params.yaml", "metrics/train.json"} <= tracked
    assert {"metrics/report.json", "plots/train_history.csv", "plots/report_layers.csv"} <= tracked
    # ... the cached outputs (data, checkpoint, probes, fields, report) through the remote.
    assert not (second / "models/backbone/backbone.pt").exists()
    run(["dvc", "pull"], second)

    expected = _checksums(first)
    assert {"models/backbone/backbone.pt", "models/probes/probes.pt"} <= set(expected)
    assert "results/report/report.html" in expected and "results/fields/layer_01.npz" in expected
    assert any(name.startswith("data/prepared/") for name in expected)
    assert _checksums(second) == expected
    assert "up to date" in run(["dvc", "status"], second).stdout

    checkpoint = second / "models/backbone/backbone.pt"
    mtime = checkpoint.stat().st_mtime_ns
    out = run(["dvc", "repro"], second).stdout
    assert "Running stage" not in out and "up to date" in out
    assert checkpoint.stat().st_mtime_ns == mtime
    assert run(["git", "status", "--porcelain"], second).stdout == ""


def _stages_named(status: subprocess.CompletedProcess[str]) -> set[str]:
    return set(json.loads(status.stdout or "{}"))


@pytest.mark.parametrize(
    "module",
    [
        *[f"src/filterscope/stages/{stage}.py" for stage in STAGES],
        "src/filterscope/data/batches.py",
        "src/filterscope/data/fetch.py",
        "src/filterscope/report/html.py",
        "src/filterscope/pruning/rules.py",
        "src/filterscope/schemas/prune.py",
        "src/filterscope/schemas/train.py",
        "src/filterscope/config.py",
        "src/filterscope/stages/fieldfiles.py",
        "src/filterscope/training/optim.py",
        "src/filterscope/tracking/run.py",
        "src/filterscope/cli.py",
    ],
)
def test_editing_a_module_dirties_exactly_the_stages_that_import_it(
    project: Path, module: str
) -> None:
    """What `dvc status` names after a module changes is what the import graph says."""
    expected = {
        stage
        for stage, spec in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items()
        if not is_output_neutral(REPO / module)
        and REPO / module in import_closure(REPO / spec["cmd"].split()[1])
    }
    path = project / module
    original = path.read_text()
    try:
        path.write_text(original + "# an edit\n")
        assert _stages_named(run(["dvc", "status", "--json"], project)) == expected
    finally:
        path.write_text(original)
    assert "up to date" in run(["dvc", "status"], project).stdout


def test_output_neutral_keys_rerun_nothing(project: Path) -> None:
    params_path = project / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    params["runtime"] = {"progress": True, "threads": 1}
    params["tracking"]["experiment"] = "elsewhere"
    try:
        params_path.write_text(yaml.safe_dump(params))
        assert "up to date" in run(["dvc", "status"], project).stdout
    finally:
        params_path.write_text(original)


def test_a_no_op_edit_of_download_code_reruns_only_download(project: Path) -> None:
    """The prepared data comes out byte-identical (nothing run-specific is written into an
    output), so DVC sees no change for the stages after it. The new download run is found by
    its output's content hash, as before."""
    fetch = project / "src/filterscope/data/fetch.py"
    fetch.write_text(fetch.read_text() + "# a comment\n")
    before = _checksums(project)
    out = run(["dvc", "repro"], project).stdout
    assert re.findall(r"Running stage '(\w+)'", out) == ["download"]
    assert _checksums(project) == before
    assert not list(project.rglob("mlflow_run.json"))
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("filterscope")
    downloads = client.search_runs(
        [experiment.experiment_id], "tags.`filterscope.stage` = 'download'"
    )
    assert len(downloads) == 2
    assert len({r.data.tags["filterscope.output.download"] for r in downloads}) == 1


def test_a_probe_param_in_a_dvc_experiment_reruns_only_what_follows(project: Path) -> None:
    """`dvc exp run -S probe.lr=...` recomposes params.yaml from conf/ (Hydra; the test preset's
    values survive), reruns exactly the stages after the probe, and tags their MLflow runs.
    Runs last: it changes the project."""
    out = run(["dvc", "exp", "run", "-n", "probe-lr", "-S", "probe.lr=0.02"], project).stdout
    rerun = {"probe", "extract", "report", "prune"}
    assert set(re.findall(r"Running stage '(\w+)'", out)) == rerun
    assert "probe-lr" in json.dumps(
        json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    )
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("filterscope").experiment_id],
        "tags.`dvc.exp_name` = 'probe-lr'",
    )
    assert {r.data.tags["filterscope.stage"] for r in runs} == rerun
    probe = next(r for r in runs if r.data.tags["filterscope.stage"] == "probe")
    assert probe.data.params["probe.lr"] == "0.02"
    assert probe.data.params["data.train_limit"] == "800"  # the preset survived recomposition
    # named by what the experiment changed, and the project's params check still passes
    assert {r.info.run_name for r in runs} == {f"{stage}-cifar10-vgg lr=0.02" for stage in rerun}
    assert params_match_conf(project)
