"""The VGG family of docs/method.md (Phase 1): conv -> BatchNorm -> ReLU blocks, 2x2 max-pools,
a linear head."""

from __future__ import annotations

import math

from torch import nn

from filterscope.errors import ConfigError
from filterscope.models.backbone import Backbone
from filterscope.schemas.model import VGG_LAYOUTS


def vgg_pooled_size(size: int, depth: int) -> int:
    """Spatial size after the padding stem and every max-pool of the given VGG depth."""
    pools = VGG_LAYOUTS[depth].count("M")
    return math.ceil(size / 2**pools)


def build_vgg(
    in_channels: int,
    image_size: int,
    num_classes: int,
    *,
    depth: int = 16,
    width: float = 1.0,
    batch_norm: bool = True,
    kernel_size: int = 3,
    dropout: float = 0.0,
) -> Backbone:
    """A VGG backbone; inputs whose size is not a multiple of 2**pools are padded (28 -> 32)."""
    if depth not in VGG_LAYOUTS:
        raise ConfigError(
            f"model.depth={depth} is not a VGG depth; choose one of {sorted(VGG_LAYOUTS)}"
        )
    if kernel_size % 2 == 0 or kernel_size < 1 or kernel_size > image_size:
        raise ConfigError(
            f"model.kernel_size={kernel_size} does not fit VGG on {image_size}x{image_size} inputs;"
            f" use an odd size from 1 to {image_size}"
        )
    layout = VGG_LAYOUTS[depth]
    pools = layout.count("M")
    padded = vgg_pooled_size(image_size, depth) * 2**pools
    total_pad = padded - image_size
    # Pad with -1, the [-1, 1]-scaled value of a black pixel (MNIST's background).
    stem = nn.ConstantPad2d((total_pad // 2, total_pad - total_pad // 2) * 2, -1.0)
    blocks: list[nn.Module] = []
    channels = in_channels
    for index, item in enumerate(layout):
        if item == "M":
            continue
        out = max(1, round(int(item) * width))
        layers: list[nn.Module] = [
            nn.Conv2d(channels, out, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
        ]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU(inplace=True))
        if index + 1 < len(layout) and layout[index + 1] == "M":
            layers.append(nn.MaxPool2d(2))
        blocks.append(nn.Sequential(*layers))
        channels = out
    final = padded // 2**pools
    head = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels * final * final, num_classes))
    return Backbone(stem, blocks, head)
