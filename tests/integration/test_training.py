"""Training on real MNIST (mirror): the tutorial ConvNet learns, and its history is recorded."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

import mlflow
import mlflow.pytorch
import pytest
import torch
from mlflow.tracking import MlflowClient

from filterscope.models import build_model
from filterscope.stages import download, train
from filterscope.stages.fitting import datamodule
from tests.helpers.configs import config

pytestmark = pytest.mark.integration


def test_mnist_convnet_learns_and_records_its_history(tmp_path: Path, mirror_dir: Path) -> None:
    overrides = [
        "experiment=mnist_convnet",
        f"data.source={mirror_dir / 'mnist'}",
        "data.train_limit=3000",
        "data.test_limit=1000",
        "train.epochs=3",
        "runtime.progress=false",
    ]
    download.run(config(tmp_path, *overrides))
    summary = train.run(config(tmp_path, *overrides))
    assert summary["train_images"] == 2700  # 10% held out for validation
    assert summary["test_acc"] > 0.8  # chance is 0.1
    with (tmp_path / "plots/train_history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    for column in ("train_acc", "val_loss", "val_acc", "seconds", "lr"):
        assert float(rows[-1][column]) > 0
    assert json.loads((tmp_path / "metrics/train.json").read_text())["epochs"] == 3

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    (run,) = client.search_runs(["1"], "tags.`filterscope.stage` = 'train'")
    assert run.data.params["train.optimizer"] == "adam" and run.data.params["data.name"] == "mnist"
    for metric in ("train_loss", "val_acc", "seconds"):
        assert [m.step for m in client.get_metric_history(run.info.run_id, metric)] == [1, 2, 3]
    assert run.data.metrics["test_acc"] == pytest.approx(summary["test_acc"])
    (tested,) = client.get_metric_history(run.info.run_id, "test_acc")  # logged once

    # the backbone as an MLflow model of the run, linked to its test scores, loadable by MLflow
    (logged,) = client.search_logged_models(experiment_ids=["1"])
    assert logged.source_run_id == run.info.run_id and logged.name == "backbone"
    assert {m.key: m.value for m in logged.metrics}["test_acc"] == pytest.approx(
        summary["test_acc"]
    )
    assert logged.model_id in {
        o.model_id for o in client.get_run(run.info.run_id).outputs.model_outputs
    }
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        loaded = mlflow.pytorch.load_model(f"models:/{logged.model_id}")
        example = torch.randn(3, 1, 28, 28)
        saved = torch.load(tmp_path / "models/backbone/backbone.pt", weights_only=True)
        model = build_model(saved["model"], saved["image_shape"], len(saved["classes"]))
        model.load_state_dict(saved["state_dict"])
        with torch.no_grad():
            torch.testing.assert_close(loaded(example), model.eval()(example))
        # the logged epoch metrics are those of a plain loop over the same images
        cfg = config(tmp_path, *overrides)
        data = datamodule(cfg, cfg.train)
        data.setup("fit")
        assert _accuracy(model, data.val_dataloader()) == pytest.approx(float(rows[-1]["val_acc"]))
        assert _accuracy(model, data.test_dataloader()) == pytest.approx(summary["test_acc"])
        signature = mlflow.models.get_model_info(f"models:/{logged.model_id}").signature
        assert tuple(signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == (-1, 1, 28, 28)
    finally:
        mlflow.set_tracking_uri(None)


def _accuracy(
    model: torch.nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> float:
    """The fraction of images ``model`` gets right, counted by hand."""
    right = seen = 0
    with torch.no_grad():
        for x, y in batches:
            right += int((model(x).argmax(1) == y).sum())
            seen += len(y)
    return right / seen


def test_early_stopping_trainer_options_and_epoch_lines(
    tmp_path: Path, mirror_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Early stopping ends the fit on its monitored metric, a ``train.trainer`` option reaches
    Lightning, and each epoch prints one plain line (stderr is not a terminal here)."""
    overrides = [
        "experiment=mnist_convnet",
        f"data.source={mirror_dir / 'mnist'}",
        "data.train_limit=3000",
        "data.test_limit=500",
        "train.epochs=6",
        "train.early_stop.monitor=train_loss",
        "train.early_stop.patience=1",
        "train.early_stop.min_delta=100",  # no epoch improves by 100: stop after the second
        "+train.trainer.limit_train_batches=2",
    ]
    download.run(config(tmp_path, *overrides))
    summary = train.run(config(tmp_path, *overrides))
    assert summary["epochs"] == 2
    with (tmp_path / "plots/train_history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    seen = 2 * 128  # two batches of 128 of the 2,700 training images per epoch
    for row in rows:
        assert float(row["train_acc"]) * seen == pytest.approx(
            round(float(row["train_acc"]) * seen)
        )
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("[train]")]
    assert [line.split(" | ")[0] for line in lines] == ["[train] epoch 1/6", "[train] epoch 2/6"]
    assert all(" | train loss " in line and " | val loss " in line for line in lines)


@pytest.mark.parametrize("native", [False, True])
def test_bf16_on_a_cpu_without_it_is_warned_before_the_fit(
    tmp_path: Path,
    mirror_dir: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    native: bool,
) -> None:
    """The train stage in bf16-mixed on a CPU that lacks native bf16 (its capabilities stood in)
    says so once, before the first epoch, and still trains; with native bf16 it says nothing."""
    caps = {"architecture": "x86_64", "avx2": True, "avx512_bf16": native, "amx_bf16": False}
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: caps)
    overrides = [
        "experiment=mnist_convnet",
        f"data.source={mirror_dir / 'mnist'}",
        "data.train_limit=600",
        "data.test_limit=100",
        "train.epochs=1",
        "train.precision=bf16-mixed",
    ]
    download.run(config(tmp_path, *overrides))
    assert train.run(config(tmp_path, *overrides))["epochs"] == 1
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("[train]")]
    warned = [line for line in lines if "without native bf16" in line]
    assert warned == ([] if native else [lines[0]])
