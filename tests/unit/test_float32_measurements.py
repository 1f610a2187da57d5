"""Measurements stay float32 when training used mixed precision: fields, the probe rebuilt from
them, AFCC and a fitted stage's test pass, computed under a CPU bf16 autocast or by a bf16
Trainer, equal their float32 values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from filterscope.analysis import filter_fields
from filterscope.models import build_model
from filterscope.probing.dilution import DilutedProbes
from filterscope.probing.extractor import FieldExtractor
from filterscope.probing.heads import ProbeHeads
from filterscope.training.classifier import Classifier
from filterscope.training.trainer import build_trainer
from tests.helpers.configs import PROBE

LAYERS = [1, 4, 8]
BF16 = {"device_type": "cpu", "dtype": torch.bfloat16}


@pytest.fixture(scope="module")
def probed() -> tuple[ProbeHeads, torch.Tensor, torch.Tensor]:
    """A VGG-11 x0.125 with random probes at three layers, and a batch of images and labels."""
    torch.manual_seed(0)
    cfg = {"name": "vgg", "depth": 11, "width": 0.125, "batch_norm": True, "kernel_size": 3}
    backbone = build_model(cfg, (3, 32, 32), 10)
    shapes = backbone.cut_shapes((3, 32, 32))
    heads = ProbeHeads(backbone, LAYERS, [shapes[i - 1] for i in LAYERS], 10, PROBE)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(16, 3, 32, 32, generator=gen) * 2 - 1
    return heads, x, torch.arange(16) % 10


def _extract(heads: ProbeHeads, x: torch.Tensor, y: torch.Tensor) -> FieldExtractor:
    extractor = FieldExtractor(heads.backbone, heads.weights(), heads.biases())
    extractor.on_test_start()
    extractor.test_step((x, y), 0)
    return extractor


def test_bf16_autocast_does_not_reach_the_fields(probed: tuple) -> None:
    heads, x, y = probed
    exact = _extract(heads, x, y)
    with torch.autocast(**BF16):
        assert heads.backbone(x).dtype == torch.bfloat16  # autocast is really on
        mixed = _extract(heads, x, y)
    for layer in LAYERS:
        want = exact.accumulators[layer].field_matrices()
        got = mixed.accumulators[layer].field_matrices()
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6 * float(want.abs().max()))
        assert mixed.probe_accuracy(layer) == exact.probe_accuracy(layer)


def test_fields_under_autocast_sum_to_the_float32_probe_logits(probed: tuple) -> None:
    """The decomposition identity, with the fields taken under autocast."""
    heads, x, _ = probed
    weights = heads.weights()
    with torch.no_grad():
        logits = heads(x)  # float32: no autocast here
        features = heads.backbone.cut_points(x, LAYERS)
    with torch.autocast(**BF16):
        for layer, feats, want in zip(LAYERS, features, logits, strict=True):
            z = filter_fields(feats, weights[layer])
            assert z.dtype == torch.float32
            torch.testing.assert_close(z.sum(1), want, rtol=1e-5, atol=1e-5)


def test_afcc_under_a_bf16_trainer_equals_float32(probed: tuple, tmp_path: Path) -> None:
    """A report-stage Trainer built from a bf16 config measures in float32 (``measure=True``),
    and the diluted probes stay float32 even inside an explicit autocast."""
    heads, x, y = probed
    keep = {
        layer: np.random.default_rng(layer).random((10, heads.weights()[layer].shape[1])) > 0.5
        for layer in LAYERS
    }
    device = OmegaConf.create({"accelerator": "cpu", "devices": 1, "precision": "bf16-mixed"})
    trainer = build_trainer(
        PROBE, device_cfg=device, logger=False, callbacks=[], root_dir=tmp_path, measure=True
    )
    assert trainer.precision == "32-true"
    diluted = DilutedProbes(heads.backbone, heads.weights(), heads.biases(), keep, PROBE)
    with torch.no_grad():
        want = diluted(x)
        with torch.autocast(**BF16):
            got = diluted(x)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_a_bf16_trainers_test_pass_scores_in_float32(probed: tuple, tmp_path: Path) -> None:
    """The Trainer that fitted a backbone in bf16 mixed precision (``measure=False``) tests it
    in float32: the test loss is the float32 loss, which bf16 would miss."""
    heads, x, y = probed
    backbone = heads.backbone.eval()
    train = OmegaConf.create(
        {"accelerator": "cpu", "channels_last": False, "compile": False, "label_smoothing": 0.1}
    )
    module = Classifier(backbone, train, 10)
    device = OmegaConf.create({"accelerator": "cpu", "devices": 1, "precision": "bf16-mixed"})
    trainer = build_trainer(PROBE, device_cfg=device, logger=False, callbacks=[], root_dir=tmp_path)
    assert trainer.precision == "bf16-mixed"
    trainer.test(module, dataloaders=DataLoader(TensorDataset(x, y), batch_size=8), verbose=False)
    with torch.no_grad():
        want = F.cross_entropy(backbone(x), y).item()
        with torch.autocast(**BF16):
            mixed = F.cross_entropy(backbone(x).float(), y).item()
    assert abs(mixed - want) > 1e-5  # a bf16 test pass would be told apart
    assert module.tested["test_loss"] == pytest.approx(want, rel=0, abs=1e-6)
