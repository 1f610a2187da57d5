"""Where AFCC's rules apply on a model: conv pairs ``l -> l+1`` and the classifier head.

A conv pair needs the output of cut point ``l`` to be the input of one conv, the first of block
``l + 1``: filterscope's :class:`~filterscope.models.backbone.Backbone` (VGG, the MNIST ConvNet)
cut at its blocks. In a residual or MBConv block the cut point also feeds a shortcut, and the
rule "keep kernel ``[j, i]``" names no single kernel, so such models prune their head alone. The
head qualifies when it is one linear layer from the last cut point to the labels, reading that
map flattened (VGG) or averaged over space (ResNet, EfficientNet); checked by running the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from filterscope.errors import ConfigError
from filterscope.models import CutModel
from filterscope.models.backbone import Backbone
from filterscope.models.cuts import default_nodes
from filterscope.pruning.rules import Site
from filterscope.schemas.prune import PAIR_MODES


@dataclass(frozen=True)
class Target:
    """A site on a concrete model: the module whose ``weight`` its mask prunes, how many weights
    one connection holds (a kernel's ``kh * kw``; ``H * W`` for a head on a flattened map), and
    the modules at either end of its connections (what ``prune.finetune=pruned`` trains)."""

    site: Site
    module: str
    per_connection: int
    ends: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """The targets to prune, and why any asked-for site was left out."""

    targets: list[Target]
    skipped: list[str]

    @property
    def sites(self) -> list[Site]:
        return [target.site for target in self.targets]


def _block_cut(model: CutModel) -> bool:
    """Whether ``model`` is a Backbone cut at its own blocks (block ``l`` ends at cut ``l``)."""
    return isinstance(model.model, Backbone) and model.nodes == default_nodes(model.model)


def _pair(model: CutModel, layer: int, shapes: Sequence[Sequence[int]]) -> Target | str:
    """The pair ``layer -> layer + 1`` of a Backbone cut at its blocks, or why the rule does not
    apply to it."""
    block = model.model.blocks[layer]  # block layer+1 (0-based index layer)
    conv = next(iter(block.children()), None)
    if not isinstance(conv, nn.Conv2d) or conv.in_channels != shapes[layer - 1][0]:
        return f"pair {layer}->{layer + 1}: block {layer + 1} does not start with a conv"
    return Target(
        Site(layer, layer + 1),
        f"blocks.{layer}.0",
        conv.kernel_size[0] * conv.kernel_size[1],
        (f"blocks.{layer - 1}", f"blocks.{layer}"),
    )


def _last_linear(module: nn.Module) -> tuple[str, nn.Linear] | None:
    linears = [(name, m) for name, m in module.named_modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


@torch.no_grad()
def _head(
    model: CutModel, image_shape: Sequence[int], num_classes: int, layers: Sequence[int]
) -> Target | str:
    """The head as a site from the last cut point's filters to the labels, or why not."""
    last = model.num_layers
    if last not in layers:
        return f"head: the last cut point (layer {last}) is not probed, so it has no clusters"
    found = _last_linear(model.model)
    if found is None or found[1].out_features != num_classes:
        return "head: the model does not end in a linear layer to the labels"
    name, linear = found
    seen: list[torch.Tensor] = []
    hook = linear.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    exact = CutModel(model.model, model.nodes)  # the cut point itself, never a pooled probe's
    was_training = model.model.training
    model.model.eval()
    try:
        param = next(model.model.parameters())
        x = torch.randn(2, *image_shape, generator=torch.Generator().manual_seed(0))
        x = x.to(device=param.device, dtype=param.dtype)
        model.model(x)
        (cut,) = exact.cut_points(x, [last])
    finally:
        hook.remove()
        model.model.train(was_training)
    reads = seen[-1].flatten(1)
    channels, size = cut.shape[1], cut.shape[2] * cut.shape[3]
    for view, per_connection in ((cut.flatten(1), size), (cut.mean((2, 3)), 1)):
        if reads.shape == view.shape and torch.allclose(reads, view, rtol=1e-4, atol=1e-5):
            if _block_cut(model):
                ends: tuple[str, ...] = (f"blocks.{last - 1}", name)
            else:  # the cut point's own module where it is one (layer4.1), else the head alone
                node = model.nodes[last - 1]
                modules = {module_name for module_name, _ in model.model.named_modules()}
                ends = (node, name) if node in modules else (name,)
            return Target(Site(last), name, per_connection, ends)
    return (
        f"head: {name} ({linear.in_features} inputs) reads neither the {channels}x"
        f"{cut.shape[2]}x{cut.shape[3]} map of the last cut point nor its spatial mean"
    )


def resolve_pairs(spec: Any, layers: Sequence[int]) -> tuple[list[int], bool]:
    """``prune.pairs`` -> the first layers ``l`` of the asked-for pairs ``l -> l+1``, and whether
    they were named explicitly (an explicit pair that does not apply is an error; ``deepest``
    and ``all`` take the pairs where the rule applies)."""
    probed = sorted(layers)
    candidates = [layer for layer in probed if layer + 1 in probed]
    if isinstance(spec, str) and spec in PAIR_MODES:
        return (candidates if spec == "all" else candidates[::-1]), False
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        named = list(spec)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in named):
            bad = [v for v in named if v not in candidates]
            if bad:
                raise ConfigError(
                    f"prune.pairs={named}: a pair l -> l+1 needs layers l and l+1 probed"
                    f" (probe.layers); {bad} do not have both (pairs possible here:"
                    f" {candidates or 'none'})"
                )
            return sorted(set(named)), True
    raise ConfigError(
        f"prune.pairs={spec!r} (allowed: {'|'.join(PAIR_MODES)} or a list of layers l, each"
        " naming the pair l -> l+1)"
    )


def plan(
    model: CutModel,
    image_shape: Sequence[int],
    layers: Sequence[int],
    num_classes: int,
    pairs: Any,
    head: bool,
) -> Plan:
    """The sites ``prune.pairs`` and ``prune.head`` ask for on ``model`` (probed at
    ``layers``), deepest first, with the reasons for any left out. ``deepest`` is the deepest
    pair where the rule applies (the paper's choice)."""
    firsts, explicit = resolve_pairs(pairs, layers)
    shapes = model.full_shapes(image_shape)
    targets: list[Target] = []
    skipped: list[str] = []
    if firsts and not _block_cut(model):
        reason = (
            "pairs: conv-to-conv pruning needs filterscope's VGG or ConvNet cut at its blocks"
            f" (probe.cuts=blocks); in a {type(model.model).__name__} a cut point does not feed"
            " one conv alone"
        )
        if explicit:
            raise ConfigError(f"prune.{reason}")
        skipped.append(reason)
        firsts = []
    for layer in firsts:
        found = _pair(model, layer, shapes)
        if isinstance(found, str):
            if explicit:
                raise ConfigError(f"prune.pairs: {found}")
            skipped.append(found)
            continue
        targets.append(found)
        if not explicit and pairs == "deepest":
            break
    if head:
        found = _head(model, image_shape, num_classes, layers)
        (skipped if isinstance(found, str) else targets).append(found)
    targets.sort(key=lambda t: (t.site.source, t.site.target is None), reverse=True)
    return Plan(targets, skipped)
