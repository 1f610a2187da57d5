"""AFCC-diluted probes on a hand-built backbone: known kept fractions and predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from filterscope.models import Backbone
from filterscope.probing.dilution import DilutedProbes
from filterscope.training.trainer import build_trainer

PROBE = OmegaConf.create(
    {
        "epochs": 1,
        "lr": 0.01,
        "momentum": 0.0,
        "nesterov": False,
        "weight_decay": 0.0,
        "lr_decay": 1.0,
        "optimizer": "sgd",
        "schedule": "constant",
        "bias": False,
    }
)
DEVICE = OmegaConf.create({"accelerator": "cpu", "devices": 1, "precision": "32-true"})
# Features (a, b) as 2 filters of 1x1; layer 1 sees (a, b), layer 2 (b, a) (channels swapped).
X = torch.tensor([[1.0, 1.0], [3.0, 1.0], [1.0, 0.0], [0.0, 1.0]]).reshape(4, 2, 1, 1)
Y = torch.tensor([1, 0, 0, 0])
# W[i, f]: output 0 = a - 3b, output 1 = 0.5a + 2b (on layer 1's features).
W = torch.tensor([[1.0, -3.0], [0.5, 2.0]]).reshape(2, 2, 1, 1)


class CountingStem(nn.Identity):
    """An identity stem that counts its forward passes."""

    calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x


def _backbone() -> Backbone:
    swap = nn.Conv2d(2, 2, 1, bias=False)
    with torch.no_grad():
        swap.weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]).reshape(2, 2, 1, 1))
    return Backbone(CountingStem(), [nn.Identity(), swap], nn.Identity())


def _accuracy(module: DilutedProbes, tmp_path: Path) -> dict[int, float]:
    trainer = build_trainer(PROBE, device_cfg=DEVICE, logger=False, callbacks=[], root_dir=tmp_path)
    trainer.test(module, dataloaders=DataLoader(TensorDataset(X, Y), batch_size=2), verbose=False)
    return module.test_accuracy()


def test_every_layer_diluted_in_one_pass(tmp_path: Path) -> None:
    keep = {
        # layer 1: output 0 = a, output 1 = 2b -> predictions 1, 0, 0, 1 -> 3 of 4 right
        1: np.array([[True, False], [False, True]]),
        # layer 2 on (b, a): output 0 = b - 3a, output 1 = 0.5b -> predictions 1, 1, 1, 0
        2: np.array([[True, True], [True, False]]),
    }
    module = DilutedProbes(_backbone(), {1: W, 2: W}, {1: None, 2: None}, keep, PROBE)
    assert module.kept_fraction == {1: 0.5, 2: 0.75}
    torch.testing.assert_close(module.heads[0].weight, torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    torch.testing.assert_close(module.heads[1].weight, torch.tensor([[1.0, -3.0], [0.5, 0.0]]))
    assert _accuracy(module, tmp_path) == {1: 0.75, 2: 0.5}
    assert module.backbone.stem.calls == 2  # one backbone forward per batch feeds both layers


def test_keeping_everything_is_the_full_probe(tmp_path: Path) -> None:
    # full layer 1 probe: outputs a - 3b vs 0.5a + 2b -> predictions 1, 1, 0, 1 -> 2 of 4 right
    keep = {1: np.ones((2, 2), dtype=bool)}
    module = DilutedProbes(_backbone(), {1: W}, {1: None}, keep, PROBE)
    assert module.kept_fraction == {1: 1.0}
    assert _accuracy(module, tmp_path) == {1: 0.5}


def test_bias_is_kept(tmp_path: Path) -> None:
    # nothing kept: logits are the bias alone, which picks output 0 for every input
    keep = {1: np.zeros((2, 2), dtype=bool)}
    cfg = OmegaConf.merge(PROBE, {"bias": True})
    module = DilutedProbes(_backbone(), {1: W}, {1: torch.tensor([1.0, 0.0])}, keep, cfg)
    assert module.kept_fraction == {1: 0.0}
    assert _accuracy(module, tmp_path) == {1: 0.75}


def test_probes_must_agree_on_outputs() -> None:
    with pytest.raises(ValueError, match="number of outputs"):
        DilutedProbes(
            _backbone(),
            {1: W, 2: torch.ones(3, 2, 1, 1)},
            {1: None, 2: None},
            {1: np.ones((2, 2), bool), 2: np.ones((3, 2), bool)},
            PROBE,
        )
