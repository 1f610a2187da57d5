"""Fine-tuning a pruned network: the masks held, only the chosen modules training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from filterscope.pruning.hold import hold
from filterscope.training.classifier import Classifier
from filterscope.training.optim import optimizers


def _within(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def apply_masks(
    model: nn.Module, modules: Mapping[str, str], masks: Mapping[str, np.ndarray]
) -> None:
    """Hold ``masks[site]`` on the module named ``modules[site]`` of ``model``."""
    for site, mask in masks.items():
        hold(model.get_submodule(modules[site]), mask)


class FineTune(Classifier):
    """Trains ``backbone`` as :class:`Classifier` does, but only the modules named in
    ``trainable`` (all of them when it is None): every other parameter is frozen and every other
    module stays in eval mode (BatchNorm keeps its running statistics, dropout is off), as in the
    authors' fine-tuning of the pruned pair alone."""

    def __init__(
        self,
        backbone: nn.Module,
        train_cfg: Any,
        num_classes: int,
        trainable: Sequence[str] | None = None,
    ) -> None:
        super().__init__(backbone, train_cfg, num_classes)
        self.frozen: list[nn.Module] = []
        if trainable is not None:
            for name, param in backbone.named_parameters():
                param.requires_grad_(_within(name, trainable))
            self.frozen = [
                module
                for name, module in backbone.named_modules()
                if not _within(name, trainable) and not any(True for _ in module.children())
            ]
        self.train()  # Lightning's fit keeps the modes it finds: the frozen modules' eval

    def train(self, mode: bool = True) -> FineTune:
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    def configure_optimizers(self) -> dict[str, Any]:
        trained = [p for p in self.backbone.parameters() if p.requires_grad]
        return optimizers(trained, self.train_cfg, self)
