"""conf/ composes into params.yaml, every preset is valid, and validation names bad keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from filterscope.config import validate
from filterscope.errors import ConfigError
from filterscope.params import params_match_conf, recorded_overrides, write_params
from filterscope.schemas.probe import resolve_layers

REPO = Path(__file__).resolve().parents[2]


def composed(*overrides: str):
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("config", list(overrides))


def test_params_yaml_is_the_composition_of_conf() -> None:
    """With the overrides it records (none in the repository; the README's offline quick start
    adds some); after `dvc exp run`, the committed one (tests/integration/test_pipeline_dvc.py
    runs an experiment and this check)."""
    assert params_match_conf(REPO), "run `make params`"


def test_a_stale_params_yaml_is_found(tmp_path: Path) -> None:
    (tmp_path / "conf").symlink_to(REPO / "conf")
    written = write_params(tmp_path)
    assert params_match_conf(tmp_path)
    written.write_text(written.read_text().replace("seed: 0", "seed: 1"))
    assert not params_match_conf(tmp_path)


def test_params_yaml_records_its_overrides(tmp_path: Path) -> None:
    (tmp_path / "conf").symlink_to(REPO / "conf")
    overrides = ["data=cifar10_subset", "data.source=/a folder/with spaces"]
    written = write_params(tmp_path, overrides)
    assert recorded_overrides(written) == overrides
    assert yaml.safe_load(written.read_text())["data"]["source"] == "/a folder/with spaces"
    assert recorded_overrides(write_params(tmp_path)) == []


@pytest.mark.parametrize("experiment", ["paper", "mnist_convnet", "transformer"])
def test_presets_compose_and_validate(experiment: str) -> None:
    cfg = composed(f"experiment={experiment}")
    validate(cfg)
    assert cfg.profile == experiment


def test_the_transformer_recipe_takes_either_transformer() -> None:
    for model in ("vit", "cct"):
        cfg = composed("experiment=transformer", f"model={model}")
        validate(cfg)
        train = cfg.train
        assert (cfg.model.name, train.optimizer, train.weight_decay) == (model, "adamw", 0.05)


def test_a_transformers_counts_are_checked_before_any_build() -> None:
    cfg = composed("model=cct", "model.depth=2.5", "model.heads=abc", "model.mlp_ratio=0")
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert str(info.value) == (
        "invalid config: model.depth=2.5 (allowed: an integer >= 1);"
        " model.heads='abc' (allowed: an integer >= 1); model.mlp_ratio=0 (allowed: a number > 0)"
    )


def test_preset_values() -> None:
    paper = composed("experiment=paper")
    assert (paper.model.name, paper.model.depth, paper.model.width) == ("vgg", 16, 1.0)
    assert paper.data.name == "cifar10" and paper.train.batch_size == 100
    mnist = composed("experiment=mnist_convnet")
    assert (mnist.data.name, mnist.model.name, mnist.model.filters) == ("mnist", "convnet", 32)
    assert (mnist.model.kernel_size, mnist.train.batch_size, mnist.train.epochs) == (3, 128, 10)
    assert mnist.data.val_fraction == 0.1


def test_default_profile_and_probe_recipe() -> None:
    cfg = composed()
    validate(cfg)
    assert cfg.profile == "cpu" and cfg.data.name == "cifar10" and cfg.model.depth == 16
    probe = cfg.probe
    assert (probe.lr, probe.momentum, probe.weight_decay, probe.lr_decay) == (
        0.01,
        0.975,
        1e-3,
        0.975,
    )
    assert probe.nesterov and not probe.bias and cfg.analysis.theta == 0.3


def test_outputs_follow_the_root_and_data_its_own_folder() -> None:
    cfg = composed("paths.root=/job", "paths.data=/shared", "data=mnist")
    paths = OmegaConf.to_container(cfg.paths, resolve=True)
    assert paths["prepared"] == "/shared/data/prepared/mnist"
    assert paths["raw"] == "/shared/data/raw"
    assert paths["backbone"] == "/job/models/backbone" and paths["metrics"] == "/job/metrics"


def test_validation_lists_every_bad_key_with_its_range() -> None:
    cfg = composed("train.lr=-1", "probe.epochs=0", "analysis.theta=1.5", "train.optimizer=rmsprop")
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    message = str(info.value)
    for part in (
        "train.lr=-1 (allowed: a number > 0)",
        "probe.epochs=0 (allowed: an integer >= 1)",
        "analysis.theta=1.5",
        "train.optimizer='rmsprop' (allowed: sgd|adam|adamw)",
    ):
        assert part in message
    assert "\n" not in message


def test_device_keys_are_checked() -> None:
    for good in (
        ["train.devices=2", "train.strategy=ddp"],
        ["train.devices=[0,1]"],
        ["train.devices=auto"],
    ):
        validate(composed(*good))
    cfg = composed("train.devices=0", "train.num_nodes=0", "train.strategy=ddp_spawn")
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    message = str(info.value)
    assert "train.devices=0 (allowed: an integer >= 1, auto, or a list" in message
    assert "train.num_nodes=0 (allowed: an integer >= 1)" in message
    assert "train.strategy='ddp_spawn' (allowed: auto|ddp)" in message


def test_trainer_options_and_early_stopping_are_checked() -> None:
    good = (
        "+train.trainer.gradient_clip_val=1.0",
        "+train.trainer.accumulate_grad_batches=2",
        "+probe.trainer.limit_train_batches=0.5",
        "train.early_stop.monitor=val_acc",
    )
    validate(composed(*good))
    cfg = composed(
        "+train.trainer.gradient_clip_vall=1.0",
        "+train.trainer.max_epochs=3",
        "+probe.trainer.gradient_clip_algorithm=sideways",
        "train.early_stop.monitor=val_f1",
        "train.early_stop.patience=0",
    )
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    message = str(info.value)
    for part in (
        "train.trainer.gradient_clip_vall is not a Lightning Trainer option; did you mean"
        " gradient_clip_val",
        "train.trainer.max_epochs is set by filterscope (use train.epochs)",
        "probe.trainer={'gradient_clip_algorithm': 'sideways'} is refused by Lightning",
        "train.early_stop.monitor='val_f1' (allowed: null|val_acc|val_loss|train_acc|train_loss)",
        "train.early_stop.patience=0 (allowed: an integer >= 1)",
    ):
        assert part in message
    no_val = composed("data.val_fraction=0", "train.early_stop.monitor=val_loss")
    with pytest.raises(ConfigError, match="needs validation data"):
        validate(no_val)
    validate(composed("data.val_fraction=0", "train.early_stop.monitor=train_loss"))


def test_resolve_layers() -> None:
    assert resolve_layers("all", 3) == [1, 2, 3]
    assert resolve_layers([3, 1, 3], 3) == [1, 3]
    assert resolve_layers(2, 3) == [2]
    for bad in ([], [4], [0], [True], ["1"]):
        with pytest.raises(ConfigError, match="probe.layers"):
            resolve_layers(bad, 3)
