"""What makes a sweep started again the same sweep (and so resumable)."""

from __future__ import annotations

from omegaconf import OmegaConf

from filterscope.tracking.sweep import sweep_key

BASE = OmegaConf.create({"seed": 0, "train": {"lr": 0.001, "epochs": "${seed}"}})


def test_the_same_script_overrides_and_config_make_the_same_sweep() -> None:
    key = sweep_key("train", "train.lr=0.1,0.01 seed=0,1", BASE)
    assert key == sweep_key("train", "train.lr=0.1,0.01 seed=0,1", OmegaConf.create(BASE))
    assert key != sweep_key("chain", "train.lr=0.1,0.01 seed=0,1", BASE)
    assert key != sweep_key("train", "train.lr=0.1,0.01 seed=0,1,2", BASE)
    changed = OmegaConf.merge(BASE, {"seed": 1})  # resolved: train.epochs follows the seed
    assert key != sweep_key("train", "train.lr=0.1,0.01 seed=0,1", changed)
