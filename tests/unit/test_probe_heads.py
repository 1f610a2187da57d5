"""Probes: a frozen eval-mode backbone, one bias-free head per layer, fields that rebuild them."""

from __future__ import annotations

import pytest
import torch

from filterscope.analysis import filter_fields
from filterscope.models import build_model
from filterscope.probing.heads import ProbeHeads
from tests.helpers.configs import PROBE


@pytest.fixture
def heads() -> ProbeHeads:
    torch.manual_seed(0)
    cfg = {"name": "vgg", "depth": 11, "width": 0.125, "batch_norm": True, "kernel_size": 3}
    backbone = build_model(cfg, (3, 32, 32), 10)
    layers = [1, 4, 8]
    shapes = backbone.cut_shapes((3, 32, 32))
    return ProbeHeads(backbone, layers, [shapes[i - 1] for i in layers], 10, PROBE)


def test_backbone_stays_frozen_in_eval_mode(heads: ProbeHeads) -> None:
    heads.train()
    assert heads.heads.training and not heads.backbone.training
    assert not any(p.requires_grad for p in heads.backbone.parameters())
    assert all(h.bias is None for h in heads.heads)
    bn = heads.backbone.blocks[0][1]
    before = bn.running_mean.clone()
    heads(torch.randn(8, 3, 32, 32) * 3 + 1)
    assert torch.equal(bn.running_mean, before)  # running statistics untouched


def test_one_optimiser_step_moves_only_the_heads(heads: ProbeHeads) -> None:
    frozen = [p.clone() for p in heads.backbone.parameters()]
    optimizer = heads.configure_optimizers()["optimizer"]
    assert optimizer.defaults["nesterov"] and optimizer.defaults["momentum"] == 0.975
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    heads.score("train", heads(x), y).backward()
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(frozen, heads.backbone.parameters(), strict=True))
    metrics = heads.epoch_metrics("train")
    assert set(metrics) == {f"train_{m}_layer_{i:02d}" for m in ("loss", "acc") for i in (1, 4, 8)}


def test_filter_fields_sum_to_each_probes_logits(heads: ProbeHeads) -> None:
    x = torch.randn(5, 3, 32, 32)
    logits = heads(x)
    features = heads.backbone.cut_points(x, heads.layers)
    for layer, feats, head_logits in zip(heads.layers, features, logits, strict=True):
        z = filter_fields(feats, heads.weights()[layer])
        assert torch.allclose(z.sum(1), head_logits, atol=1e-5)


def test_channels_last_features_give_the_same_logits(heads: ProbeHeads) -> None:
    x = torch.randn(4, 3, 32, 32)
    plain = heads(x)
    heads.backbone.to(memory_format=torch.channels_last)
    fast = heads(x.contiguous(memory_format=torch.channels_last))
    for a, b in zip(plain, fast, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
