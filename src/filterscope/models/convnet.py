"""The tutorial's one-conv-layer MNIST network."""

from __future__ import annotations

from torch import nn

from filterscope.errors import ConfigError
from filterscope.models.backbone import Backbone


def build_convnet(
    in_channels: int,
    image_size: int,
    num_classes: int,
    *,
    filters: int = 32,
    kernel_size: int = 3,
    pool: int = 2,
    dropout: float = 0.25,
    hidden: int = 128,
) -> Backbone:
    """conv(filters, kernel_size) -> ReLU -> max-pool -> dropout -> dense -> ReLU -> output."""
    conv_size = image_size - kernel_size + 1
    if kernel_size < 1 or conv_size < pool:
        raise ConfigError(
            f"model.kernel_size={kernel_size} is too large for {image_size}x{image_size} inputs"
            f" with a {pool}x{pool} pool; use at most {image_size - pool + 1}"
        )
    pooled = conv_size // pool
    block = nn.Sequential(
        nn.Conv2d(in_channels, filters, kernel_size), nn.ReLU(inplace=True), nn.MaxPool2d(pool)
    )
    head = nn.Sequential(
        nn.Dropout(dropout),
        nn.Linear(filters * pooled * pooled, hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, num_classes),
    )
    return Backbone(nn.Identity(), [block], head)
