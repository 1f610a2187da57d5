"""Build a backbone from its config: the registered families or a user's own factory."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from filterscope.errors import ConfigError
from filterscope.models.backbone import Backbone
from filterscope.models.convnet import build_convnet
from filterscope.models.vgg import build_vgg

Factory = Callable[..., Backbone]
MODELS: dict[str, Factory] = {"vgg": build_vgg, "convnet": build_convnet}


def _resolve(name: str) -> Factory:
    if name in MODELS:
        return MODELS[name]
    if ":" in name:  # "package.module:function", a user's own factory returning a Backbone
        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"model.name={name!r} cannot be imported: {exc}") from exc
    raise ConfigError(
        f"unknown model {name!r}; choose one of {sorted(MODELS)} or give 'package.module:factory'"
    )


def build_model(
    model_cfg: Mapping[str, Any], image_shape: Sequence[int], num_classes: int
) -> Backbone:
    """Instantiate ``model_cfg['name']`` for inputs of ``image_shape`` = (C, H, W)."""
    options = {k: v for k, v in dict(model_cfg).items() if k != "name"}
    factory = _resolve(str(model_cfg["name"]))
    channels, height, _ = image_shape
    try:
        model = factory(channels, height, num_classes, **options)
    except TypeError as exc:
        raise ConfigError(f"model {model_cfg['name']!r} rejects its options: {exc}") from exc
    if not isinstance(model, Backbone):
        raise ConfigError(f"model {model_cfg['name']!r} did not return a filterscope Backbone")
    return model
