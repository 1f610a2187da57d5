"""What makes a sweep started again the same sweep (and so resumable)."""

from __future__ import annotations

from omegaconf import OmegaConf

from filterscope.tracking.sweep import sweep_key

BASE = OmegaConf.create({"seed": 0, "train": {"lr": 0.001, "epochs": "${seed}"}})
OPTUNA = OmegaConf.create({"n_trials": 3, "sampler": {"seed": 0}})
SWEEP = "train.lr=0.1,0.01 seed=0,1"


def test_the_same_script_overrides_config_and_sweeper_make_the_same_sweep() -> None:
    key = sweep_key("train", SWEEP, BASE, OPTUNA)
    assert key == sweep_key("train", SWEEP, OmegaConf.create(BASE), OmegaConf.create(OPTUNA))
    assert key != sweep_key("chain", SWEEP, BASE, OPTUNA)
    assert key != sweep_key("train", "train.lr=0.1,0.01 seed=0,1,2", BASE, OPTUNA)
    changed = OmegaConf.merge(BASE, {"seed": 1})  # resolved: train.epochs follows the seed
    assert key != sweep_key("train", SWEEP, changed, OPTUNA)
    reseeded = OmegaConf.merge(OPTUNA, {"sampler": {"seed": 1}})
    assert key != sweep_key("train", SWEEP, BASE, reseeded)
