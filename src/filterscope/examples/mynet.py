"""A network of your own, as filterscope takes one: a factory ``make_net(in_channels, image_size,
num_classes, **options)`` that returns any ``nn.Module``. ``conf/model/mynet.yaml`` names it;
copy both, put your module on the Python path, and point ``name`` at
``yourpackage.module:make_net``.

Its cut points are module names (``conv1``, ``block2``) or torch.fx graph-node names
(``relu_1``): ``probe.cuts=[conv1,block2]``. DVC does not see a factory's code (it is imported by
name, at run time): add your module to the train stage's ``deps`` in ``dvc.yaml``."""

from __future__ import annotations

from torch import Tensor, nn


class MyNet(nn.Module):
    """Two conv blocks (3x3 conv, ReLU, 2x2 max-pool) and a linear head."""

    def __init__(self, in_channels: int, image_size: int, num_classes: int, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.block2 = nn.Sequential(
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        )
        side = image_size // 4
        self.head = nn.Linear(2 * width * side * side, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        return self.head(self.block2(x).flatten(1))


def make_net(in_channels: int, image_size: int, num_classes: int, width: int = 16) -> nn.Module:
    """The factory ``model.name=filterscope.examples.mynet:make_net`` calls (``width``: the first
    block's filters, from ``model.width``)."""
    return MyNet(in_channels, image_size, num_classes, width)
