"""Masks held on a real model through real optimiser steps stay exactly zero."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from filterscope.pruning.hold import held_fraction, hold, release


def test_held_weights_stay_zero_through_training_and_release() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(5 * 6 * 6, 10),
    )  # fmt: skip
    conv, head = model[2], model[5]
    conv_keep = np.random.default_rng(0).random((5, 4)) < 0.4
    head_keep = np.random.default_rng(1).random((10, 180)) < 0.5
    hold(conv, conv_keep)
    hold(head, head_keep)
    assert held_fraction(conv) == pytest.approx(conv_keep.mean())
    before = conv.weight_orig.detach().clone()
    # Momentum and weight decay move every entry of weight_orig, masked ones included.
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    for _ in range(5):
        x, y = torch.randn(8, 3, 6, 6), torch.randint(0, 10, (8,))
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()
        model(x)  # the forward recomputes weight = weight_orig * mask
        assert (conv.weight[torch.as_tensor(~conv_keep)] == 0).all()
        assert (head.weight[torch.as_tensor(~head_keep)] == 0).all()
    kept = torch.as_tensor(conv_keep)
    assert not torch.equal(conv.weight_orig[kept], before[kept])  # the kept kernels trained
    release(conv)
    assert "weight" in dict(conv.named_parameters()) and held_fraction(conv) == 1.0
    assert (conv.weight[~kept] == 0).all() and (conv.weight[kept] != 0).any()


def test_a_mask_must_match_the_connections() -> None:
    with pytest.raises(ValueError, match=r"\(4, 3\) does not match the connections \(5, 4\)"):
        hold(nn.Conv2d(4, 5, 3), np.ones((4, 3), dtype=bool))
