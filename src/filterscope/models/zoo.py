"""torchvision architectures by name, with the variants that fit 28x28 and 32x32 inputs on a CPU.

``width`` scales every layer's channels (ResNet, EfficientNet-B0, MobileNetV3); ``cifar_stem``
makes the first conv 3x3 with stride 1 and drops ResNet's max-pool, so a 32x32 input is not cut
to 8x8 before the first block; ``weights`` loads torchvision's pretrained weights by name (their
own 1000-label head is replaced by a new one when the dataset has another number of labels). The
weights are not loaded here but by the train stage (:mod:`filterscope.models.imports`), so that
building a model, to check a config or to load a trained one, never downloads anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torchvision.models as tvm
from torch import nn
from torchvision.models import efficientnet, resnet

from filterscope.errors import ConfigError

RESNET_CHANNELS = (64, 128, 256, 512)
_WIDTH_SCALABLE = ("efficientnet_b0", "mobilenet_v3_small", "mobilenet_v3_large")  # and resnet*


def torchvision_names() -> list[str]:
    """The classification architectures torchvision builds by name."""
    return sorted(tvm.list_models(module=tvm))


def _kaiming(conv: nn.Conv2d) -> nn.Conv2d:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return conv


def _scaled_resnet(model: resnet.ResNet, in_channels: int, num_classes: int, width: float) -> None:
    """Rebuild ``model``'s stem, stages and head with ``width`` times the channels (torchvision's
    own ``_make_layer`` and initialisation)."""
    block = type(model.layer1[0])
    counts = [len(getattr(model, f"layer{i}")) for i in range(1, 5)]
    planes = [max(1, round(c * width)) for c in RESNET_CHANNELS]
    model.inplanes, model.dilation = planes[0], 1
    model.conv1 = _kaiming(nn.Conv2d(in_channels, planes[0], 7, 2, 3, bias=False))
    model.bn1 = model._norm_layer(planes[0])
    for i, (p, n) in enumerate(zip(planes, counts, strict=True), start=1):
        setattr(model, f"layer{i}", model._make_layer(block, p, n, stride=1 if i == 1 else 2))
    model.fc = nn.Linear(planes[-1] * block.expansion, num_classes)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            _kaiming(m)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _stem_conv(model: nn.Module) -> tuple[nn.Module, str]:
    """The module holding the first conv and that conv's attribute name."""
    if isinstance(model, resnet.ResNet):
        return model, "conv1"
    return model.features[0], "0"  # EfficientNet, MobileNet: features[0] = Conv2dNormActivation


def _restem(model: nn.Module, in_channels: int, cifar_stem: bool) -> None:
    """A first conv for ``in_channels`` inputs; with ``cifar_stem`` a 3x3 stride-1 one (and, in a
    ResNet, no max-pool)."""
    holder, attr = _stem_conv(model)
    old: nn.Conv2d = getattr(holder, attr)
    if old.in_channels == in_channels and not cifar_stem:
        return
    kernel, stride = (3, 1) if cifar_stem else (old.kernel_size, old.stride)
    padding = (kernel // 2) if cifar_stem else old.padding
    conv = nn.Conv2d(in_channels, old.out_channels, kernel, stride, padding, bias=False)
    setattr(holder, attr, _kaiming(conv))
    if cifar_stem and isinstance(model, resnet.ResNet):
        model.maxpool = nn.Identity()


def weights_enum(name: str, weights: str) -> tvm.WeightsEnum:
    """torchvision's pretrained weights ``weights`` (or ``DEFAULT``) of architecture ``name``."""
    known = tvm.get_model_weights(name)
    if weights == "DEFAULT":
        return known.DEFAULT
    try:
        return known[weights]
    except KeyError:
        raise ConfigError(
            f"model.weights={weights!r} is not a torchvision weight of {name}; choose one of"
            f" {[w.name for w in known]} or DEFAULT"
        ) from None


def build_torchvision(
    name: str,
    in_channels: int,
    image_size: int,
    num_classes: int,
    *,
    width: float = 1.0,
    cifar_stem: bool = False,
    weights: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> nn.Module:
    """torchvision's ``name`` for ``in_channels``-channel inputs and ``num_classes`` labels,
    width-scaled and with a small-input stem when asked (``image_size``: the factory contract;
    these networks pool adaptively and take any size). ``options``: further keyword arguments
    of torchvision's builder (e.g. EfficientNet's ``dropout``, ``stochastic_depth_prob``)."""
    if name not in torchvision_names():
        raise ConfigError(f"model.name={name!r} is not a torchvision classification model")
    scalable = name.startswith("resnet") or name in _WIDTH_SCALABLE
    restem = name.startswith(("resnet", "efficientnet", "mobilenet_v3"))
    if not (isinstance(width, int | float) and not isinstance(width, bool) and width > 0):
        raise ConfigError(f"model.width={width!r} (allowed: a number > 0)")
    if not math.isclose(width, 1.0) and not scalable:
        raise ConfigError(f"model.width={width} is not offered for {name} (only 1.0)")
    if (cifar_stem or in_channels != 3) and not restem:
        raise ConfigError(
            f"{name} takes 3-channel inputs with its own stem: model.cifar_stem and"
            f" {in_channels}-channel data are offered for resnet*, efficientnet* and mobilenet_v3*"
        )
    if weights is not None:
        if cifar_stem or in_channels != 3 or not math.isclose(width, 1.0):
            raise ConfigError(
                f"model.weights={weights} fits {name} as trained: 3-channel inputs, width 1.0 and"
                " its own stem (model.cifar_stem=false)"
            )
        weights_enum(name, str(weights))  # loaded by the train stage (models.imports)
    kwargs: dict[str, Any] = {**(options or {}), "num_classes": num_classes}
    if name.startswith("mobilenet_v3"):
        kwargs["width_mult"] = float(width)
    try:
        if name == "efficientnet_b0" and not math.isclose(width, 1.0):
            setting, last = efficientnet._efficientnet_conf(name, width_mult=width, depth_mult=1.0)
            dropout = kwargs.pop("dropout", 0.2)  # torchvision's default for B0
            model = efficientnet.EfficientNet(setting, dropout, last_channel=last, **kwargs)
        else:
            model = tvm.get_model(name, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model.options={dict(options or {})} refused by {name}: {exc}") from exc
    if isinstance(model, resnet.ResNet) and not math.isclose(width, 1.0):
        _scaled_resnet(model, in_channels, num_classes, width)
    if restem:
        _restem(model, in_channels, cifar_stem)
    return model
