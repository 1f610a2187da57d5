"""Same config and seed, two runs: identical metrics and identical field matrices on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from filterscope.stages import chain, download
from tests.helpers.configs import config

# The fast lane's one chain (make test-fast): two tiny whole chains in this process.
pytestmark = [pytest.mark.integration, pytest.mark.fast]


def test_two_runs_agree_bit_for_bit(tmp_path: Path, mirror_dir: Path) -> None:
    data = tmp_path / "data"
    download.run(config(data, "data=mnist", f"data.source={mirror_dir / 'mnist'}"))
    overrides = [
        "experiment=mnist_convnet",
        "data.train_limit=1500",
        "data.test_limit=300",
        "train.epochs=2",
        "runtime.progress=false",
        "probe.epochs=1",
        "seed=7",
    ]
    roots = [tmp_path / "first", tmp_path / "second"]
    for root in roots:
        chain.run(config(root, *overrides, data=data))
    first, second = roots
    for name in ("train", "probe", "extract", "report", "prune"):
        a = json.loads((first / f"metrics/{name}.json").read_text())
        b = json.loads((second / f"metrics/{name}.json").read_text())
        assert {k: v for k, v in a.items() if "seconds" not in k} == {
            k: v for k, v in b.items() if "seconds" not in k
        }, name
    # The one-layer ConvNet has no conv pair, and its last linear reads the dense layer: the
    # prune stage fine-tunes nothing and says why.
    assert set(json.loads((first / "metrics/prune.json").read_text())) == {"unpruned_acc"}
    page = (first / "results/prune/prune.html").read_text()
    assert "head: head.3 (128 inputs) reads neither" in page
    with (
        np.load(first / "results/fields/layer_01.npz") as x,
        np.load(second / "results/fields/layer_01.npz") as y,
    ):
        assert np.array_equal(x["matrices"], y["matrices"])
        assert np.array_equal(x["single_filter_accuracy"], y["single_filter_accuracy"])
    run = MlflowClient(f"sqlite:///{first}/mlflow.db").search_runs(
        ["1"], "tags.`filterscope.stage` = 'train'"
    )[0]
    assert run.data.params["seed"] == "7"
