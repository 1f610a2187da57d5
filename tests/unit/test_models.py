"""Backbones expose docs/method.md's cut points by 1-based index, for any input size they accept."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from filterscope.errors import ConfigError
from filterscope.models import Backbone, build_model
from filterscope.models.vgg import VGG_LAYOUTS

VGG16 = {"name": "vgg", "depth": 16, "width": 1.0, "batch_norm": True, "kernel_size": 3}


def test_vgg16_has_13_cut_points_after_bn_relu_and_pool() -> None:
    model = build_model(VGG16, (3, 32, 32), 10)
    assert model.num_layers == 13
    shapes = model.cut_shapes((3, 32, 32))
    channels = [c for c in VGG_LAYOUTS[16] if c != "M"]
    assert [s[0] for s in shapes] == channels
    # A pool follows layers 2, 4, 7, 10 and 13: the cut point is after it.
    assert [s[1] for s in shapes] == [32, 16, 16, 8, 8, 8, 4, 4, 4, 2, 2, 2, 1]
    block = model.blocks[1]
    assert [type(m) for m in block] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d]
    assert model.head[-1].in_features == 512


def test_width_multiplier_and_depths() -> None:
    quarter = build_model({**VGG16, "width": 0.25}, (3, 32, 32), 10)
    assert [s[0] for s in quarter.cut_shapes((3, 32, 32))][:3] == [16, 16, 32]
    for depth, layout in VGG_LAYOUTS.items():
        model = build_model({**VGG16, "depth": depth, "width": 0.125}, (3, 32, 32), 10)
        assert model.num_layers == sum(1 for c in layout if c != "M")


def test_mnist_sized_inputs_are_padded_to_32() -> None:
    model = build_model({**VGG16, "width": 0.125}, (1, 28, 28), 10).eval()
    assert model.cut_shapes((1, 28, 28))[0][1:] == (32, 32)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_cut_points_match_the_forward_pass() -> None:
    torch.manual_seed(0)
    model = build_model({**VGG16, "width": 0.125}, (3, 32, 32), 10).eval()
    x = torch.randn(3, 3, 32, 32)
    last = model.cut_points(x, [13])[0]
    assert torch.allclose(model.head(last.flatten(1)), model(x))
    a7, a2 = model.cut_points(x, [7, 2])
    assert a7.shape == (3, 32, 4, 4) and a2.shape == (3, 8, 16, 16)


def test_convnet_is_the_tutorial_network() -> None:
    cfg = {"name": "convnet", "filters": 32, "kernel_size": 3, "pool": 2, "dropout": 0.25}
    model = build_model(cfg, (1, 28, 28), 10)
    assert model.num_layers == 1
    assert model.cut_shapes((1, 28, 28)) == [(32, 13, 13)]
    assert model.head[1].in_features == 32 * 13 * 13 and model.head[1].out_features == 128


@pytest.mark.parametrize(
    ("cfg", "shape", "message"),
    [
        ({"name": "convnet", "kernel_size": 28}, (1, 28, 28), "at most 27"),
        ({**VGG16, "kernel_size": 4}, (3, 32, 32), "odd size"),
        ({**VGG16, "kernel_size": 33}, (3, 32, 32), "from 1 to 32"),
        ({**VGG16, "depth": 17}, (3, 32, 32), "not a VGG depth"),
        ({"name": "vgg", "colour": 3}, (3, 32, 32), "rejects its options"),
        ({"name": "nope"}, (3, 32, 32), "unknown model"),
        ({"name": "os.path:nothing_here"}, (3, 32, 32), "cannot be imported"),
        ({"name": "builtins:max"}, (3, 32, 32), "did not return"),
    ],
)
def test_bad_model_configs_are_refused(cfg: dict, shape: tuple, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model(cfg, shape, 10)


def tiny_factory(
    in_channels: int, image_size: int, num_classes: int, *, filters: int = 4
) -> Backbone:
    """A user's own backbone, registered by import path."""
    block = nn.Sequential(nn.Conv2d(in_channels, filters, 3, padding=1), nn.ReLU())
    head = nn.Linear(filters * image_size * image_size, num_classes)
    return Backbone(nn.Identity(), [block], head)


def test_a_users_own_backbone_by_import_path() -> None:
    model = build_model({"name": f"{__name__}:tiny_factory", "filters": 5}, (1, 8, 8), 3)
    assert model.cut_shapes((1, 8, 8)) == [(5, 8, 8)]
