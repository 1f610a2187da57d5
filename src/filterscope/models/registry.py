"""Build a model from its config: the filterscope families, torchvision architectures by name, or
a user's own factory returning any ``nn.Module`` classifier."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from torch import nn

from filterscope.errors import ConfigError
from filterscope.models.cct import CCT
from filterscope.models.convnet import build_convnet
from filterscope.models.vgg import build_vgg
from filterscope.models.vit import build_vit
from filterscope.models.zoo import build_torchvision, torchvision_names

Factory = Callable[..., nn.Module]
MODELS: dict[str, Factory] = {
    "vgg": build_vgg,
    "convnet": build_convnet,
    "vit": build_vit,
    "cct": CCT,
}
# Model keys the stages read, not the factory: what the model expects of its inputs, and a
# trained model to import instead of training one (stages.train).
STAGE_KEYS = ("name", "normalize", "checkpoint")


def _resolve(name: str) -> Factory:
    if name in MODELS:
        return MODELS[name]
    if ":" in name:  # "package.module:function", a user's own factory returning an nn.Module
        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"model.name={name!r} cannot be imported: {exc}") from exc
    if name in torchvision_names():
        return partial(build_torchvision, name)
    raise ConfigError(
        f"unknown model {name!r}; choose one of {sorted(MODELS)}, a torchvision architecture"
        " (resnet18, efficientnet_b0, ...) or give 'package.module:factory'"
    )


def build_model(
    model_cfg: Mapping[str, Any], image_shape: Sequence[int], num_classes: int
) -> nn.Module:
    """Instantiate ``model_cfg['name']`` for inputs of ``image_shape`` = (C, H, W)."""
    options = {k: v for k, v in dict(model_cfg).items() if k not in STAGE_KEYS}
    factory = _resolve(str(model_cfg["name"]))
    channels, height, _ = image_shape
    try:
        model = factory(channels, height, num_classes, **options)
    except TypeError as exc:
        raise ConfigError(f"model {model_cfg['name']!r} rejects its options: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model {model_cfg['name']!r} did not return a torch nn.Module")
    return model
