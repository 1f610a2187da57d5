"""Run names in the MLflow UI say what sets a run apart (filterscope.tracking.names)."""

from __future__ import annotations

import pytest

from filterscope.tracking.names import (
    changed_params,
    job_name,
    short_names,
    stage_name,
    sweep_name,
    swept_keys,
)

GRID = ["experiment=mnist_convnet", "train.lr=0.01,0.001", "model.dropout=0,0.5", "seed=0,1"]


def test_the_swept_keys_are_those_with_several_values_in_the_sweeps_order() -> None:
    assert swept_keys([*GRID, "train.epochs=2"]) == ["train.lr", "model.dropout", "seed"]
    assert swept_keys(["model=resnet18,vgg", "seed=range(3)", "+extra.k=1"]) == ["model", "seed"]
    optuna = {"train.lr": "interval(1e-4, 1e-1)", "model.dropout": "choice(0, 0.5)"}
    assert swept_keys(["experiment=mnist_convnet"], optuna) == ["train.lr", "model.dropout"]
    assert swept_keys(["train.lr=0.1,0.01"], {"train.lr": "0.1,0.01"}) == ["train.lr"]


def test_short_names_only_where_unambiguous() -> None:
    assert short_names(["train.lr", "model.dropout", "seed"]) == {
        "train.lr": "lr",
        "model.dropout": "dropout",
        "seed": "seed",
    }
    assert short_names(["train.lr", "probe.lr", "model.kernel_size"]) == {
        "train.lr": "train.lr",
        "probe.lr": "probe.lr",
        "model.kernel_size": "kernel_size",
    }


def test_a_sweep_job_is_named_by_its_swept_values_as_the_sweep_spells_them() -> None:
    job = ["experiment=mnist_convnet", "train.lr=0.01", "model.dropout=0.5", "seed=1", "x.y=2"]
    swept = swept_keys(GRID)
    assert job_name("train", job, swept) == "train lr=0.01 dropout=0.5 seed=1"
    assert job_name("chain", ["model=resnet18", "data.classes=[cat,dog]"], ["model"]) == (
        "chain model=resnet18"
    )
    assert job_name("train", job, []) == "train"


def test_a_sweep_is_named_by_its_axes_and_what_it_trains() -> None:
    assert sweep_name("train", ["train.lr", "model.dropout"], "mnist", "convnet") == (
        "sweep lr x dropout (mnist-convnet)"
    )
    assert sweep_name("chain", ["seed"], "cifar10", "vgg") == "chain sweep seed (cifar10-vgg)"


@pytest.mark.parametrize(
    ("changed", "name"),
    [({}, "train-mnist-convnet"), ({"train.lr": "0.1"}, "train-mnist-convnet lr=0.1")],
)
def test_a_pipeline_stage_is_named_by_stage_data_model_and_the_experiments_changes(
    changed: dict[str, str], name: str
) -> None:
    assert stage_name("train", "mnist", "convnet", changed) == name


def test_changed_params_are_the_new_or_different_values() -> None:
    base = {"train.lr": "0.01", "seed": "0", "model.name": "vgg"}
    now = {"train.lr": "0.1", "seed": "0", "model.name": "vgg", "model.new": "1"}
    assert changed_params(base, now) == {"train.lr": "0.1", "model.new": "1"}
