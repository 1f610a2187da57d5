"""Cut points of any classifier ``nn.Module``: named nodes, numbered 1..L from the input.

Layer ``l`` of docs/method.md is the output ``a_l(x)`` of node ``nodes[l - 1]``: a module name
(``layer2.1``: the output of that residual block) or a graph-node name of torchvision's feature
extraction (``layer2.1.relu_1``). The defaults (``probe.cuts``):

- ``blocks``: every conv block. A filterscope :class:`Backbone` (VGG, the MNIST ConvNet): its
  blocks (conv, BatchNorm, ReLU, max-pool). ResNet: every residual block (``layerS.B``, after the
  addition and ReLU). EfficientNet: every MBConv block (``features.S.B``) and the last 1x1 conv
  block; MobileNetV3: every inverted-residual block and the last conv block. The stem before the
  first block is left out, as docs/method.md's layer 1 is the first conv *block*.
- ``stages``: the output of every stage (ResNet ``layer1..4``; EfficientNet ``features.1..8``).

A transformer's cut point is an encoder block's output tokens ``(N, D)`` (``blocks.b`` of
timm's ViT or filterscope's CCT, both modes): they are seen as ``D`` maps of ``N x 1``, so a
unit is one embedding dimension, a *node*, and its positions are the tokens. ``heads`` cuts
every block's attention before its output projection instead (``blocks.b.attn.norm``, an
identity in timm's attention), where the tokens ``(N, H * d)`` are seen as ``H`` maps of
``d x N``: a unit is one *head*
(docs/method.md, "Transformers: nodes and heads").

A ``Backbone`` cut at its own blocks runs its native forward (stopping at the deepest probed
layer); every other model goes through ``torchvision.models.feature_extraction``, whose graph
also stops at the deepest probed node. ``pool`` (a named docs/method.md variant) averages every cut
point down to at most a ``(h, w)`` grid.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import efficientnet, mobilenetv2, mobilenetv3, resnet
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from filterscope.errors import ConfigError
from filterscope.models.backbone import Backbone
from filterscope.sizes import size_pair

CUT_MODES = ("blocks", "stages", "heads")
HEADS = ".attn.norm"  # the input of an attention's output projection: its heads' outputs
_FEATURE_NETS = (efficientnet.EfficientNet, mobilenetv2.MobileNetV2, mobilenetv3.MobileNetV3)


def default_nodes(model: nn.Module, mode: str = "blocks") -> list[str]:
    """The cut points ``mode`` (``blocks``, ``stages`` or ``heads``) names in ``model``, from the
    input."""
    if mode not in CUT_MODES:
        raise ConfigError(f"probe.cuts={mode!r} (allowed: {'|'.join(CUT_MODES)} or node names)")
    if mode == "heads" and not _transformer(model):
        raise ConfigError(
            f"probe.cuts=heads needs a transformer (model=vit|cct): a {type(model).__name__} has no"
            " attention heads"
        )
    if isinstance(model, Backbone):
        return [f"blocks.{i}" for i in range(model.num_layers)]
    if isinstance(model, resnet.ResNet):
        stages = [f"layer{i}" for i in range(1, 5)]
        if mode == "stages":
            return stages
        return [f"{s}.{b}" for s in stages for b in range(len(model.get_submodule(s)))]
    if _transformer(model):
        suffix = HEADS if mode == "heads" else ""
        return [f"blocks.{i}{suffix}" for i in range(len(model.blocks))]
    if isinstance(model, _FEATURE_NETS):
        last = len(model.features) - 1
        if mode == "stages":
            return [f"features.{i}" for i in range(1, last + 1)]
        nodes = []
        for i in range(1, last):
            stage = model.features[i]
            blocks = range(len(stage)) if isinstance(stage, nn.Sequential) else None
            nodes += [f"features.{i}.{b}" for b in blocks] if blocks else [f"features.{i}"]
        return [*nodes, f"features.{last}"]
    raise ConfigError(
        f"filterscope has no default cut points for a {type(model).__name__}; name them:"
        f" probe.cuts=[...] with module or graph-node names such as {_examples(model)}"
    )


def _transformer(model: nn.Module) -> bool:
    """A transformer built of timm's blocks (timm's ViT, filterscope's CCT): a ``blocks``
    sequence whose every block has an attention with ``num_heads``."""
    blocks = getattr(model, "blocks", None)
    return (
        isinstance(blocks, nn.Sequential)
        and len(blocks) > 0
        and all(hasattr(getattr(b, "attn", None), "num_heads") for b in blocks)
    )


def as_maps(tokens: torch.Tensor, heads: int | None = None) -> torch.Tensor:
    """A cut point as ``(B, C, H, W)`` maps: tokens ``(B, N, D)`` become ``(B, D, N, 1)``, one
    map per node; with ``heads``, ``(B, heads, D / heads, N)``, one map per head (its ``d``
    values per token, in the order the attention concatenates them); feature maps are
    returned as they are."""
    if tokens.ndim != 3:
        return tokens
    if heads is None:
        return tokens.transpose(1, 2).unsqueeze(-1)
    b, n, c = tokens.shape
    return tokens.reshape(b, n, heads, c // heads).permute(0, 2, 3, 1)


def _examples(model: nn.Module) -> str:
    names = [name for name, _ in model.named_children()]
    return ", ".join(names[:6]) or "(the model has no submodules)"


def check_nodes(model: nn.Module, nodes: Sequence[str]) -> None:
    """Refuse names that are neither a module of ``model`` nor a node of its traced graph."""
    modules = {name for name, _ in model.named_modules() if name}
    graph: list[str] = []
    for name in nodes:
        if name in modules:
            continue
        if not graph:
            try:
                graph = get_graph_node_names(model)[1]
            except Exception as exc:  # noqa: BLE001 - torch.fx fails in many ways on odd code
                raise ConfigError(
                    f"probe.cuts={name!r} is not a module of the model, and the model cannot be"
                    f" traced for graph-node names ({type(exc).__name__}: {exc})"
                ) from None
        if name not in graph:
            near = difflib.get_close_matches(name, sorted(modules | set(graph)), n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ConfigError(f"probe.cuts: the model has no module or graph node {name!r}{hint}")


def resolve_nodes(model: nn.Module, cuts: Any) -> list[str]:
    """``probe.cuts``: ``blocks`` | ``stages`` | a list of names (from the input), checked."""
    if isinstance(cuts, str):
        return default_nodes(model, cuts)
    if not (isinstance(cuts, Sequence) and cuts and all(isinstance(n, str) for n in cuts)):
        raise ConfigError(
            f"probe.cuts={cuts!r} (allowed: {'|'.join(CUT_MODES)} or a list of node names)"
        )
    nodes = list(cuts)
    if len(set(nodes)) != len(nodes):
        raise ConfigError(f"probe.cuts={nodes} names a node twice")
    check_nodes(model, nodes)
    return nodes


def pool_grid(pool: Any) -> tuple[int, int] | None:
    """``probe.pool``: null (the exact probe), an int ``g`` (a g x g grid) or ``[h, w]``."""
    return size_pair(pool, "probe.pool")


class CutModel(nn.Module):
    """``model`` with its cut points ``nodes`` (layer ``l`` = ``nodes[l - 1]``), optionally
    pooled to at most a ``pool`` grid. ``forward`` is the model's own."""

    def __init__(
        self, model: nn.Module, nodes: Sequence[str], pool: tuple[int, int] | None = None
    ) -> None:
        super().__init__()
        self.model = model
        self.nodes = list(nodes)
        self.pool = pool
        self._native = isinstance(model, Backbone) and self.nodes == default_nodes(model)
        self._heads = {
            node: model.get_submodule(node.removesuffix(".norm")).num_heads
            for node in self.nodes
            if node.endswith(HEADS)
        }
        self._extractors: dict[tuple[int, ...], nn.Module] = {}

    @property
    def num_layers(self) -> int:
        return len(self.nodes)

    def node_names(self, layers: Sequence[int]) -> dict[int, str]:
        """Each of ``layers`` (1-based) mapped to the name of its cut point."""
        return {layer: self.nodes[layer - 1] for layer in layers}

    def pool_record(self) -> list[int] | None:
        """``pool`` as the probe file stores it: ``[h, w]``, or None for the exact probe."""
        return None if self.pool is None else list(self.pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _apply(self, fn: Any, recurse: bool = True) -> CutModel:
        self._extractors.clear()  # traced graphs may hold references to the old tensors
        return super()._apply(fn, recurse)

    def _extract(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        key = tuple(sorted(set(layers)))
        if key not in self._extractors:
            wanted = {self.nodes[layer - 1]: str(layer) for layer in key}
            self._extractors[key] = create_feature_extractor(self.model, return_nodes=wanted)
        extractor = self._extractors[key]
        extractor.train(self.model.training)
        out = extractor(x)
        heads = [self._heads.get(self.nodes[layer - 1]) for layer in layers]
        return [as_maps(out[str(layer)], h) for layer, h in zip(layers, heads, strict=True)]

    def cut_points(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """Activations ``a_l(x)`` at the given 1-based layers, in the order given (one pass)."""
        feats = self.model.cut_points(x, layers) if self._native else self._extract(x, layers)
        if self.pool is None:
            return feats
        return [F.adaptive_avg_pool2d(f, self.pooled_size(f.shape[-2:])) for f in feats]

    def pooled_size(self, size: Sequence[int]) -> tuple[int, int]:
        """The grid a ``size`` map is pooled to: itself without ``pool``, else at most ``pool``."""
        h, w = int(size[0]), int(size[1])
        return (h, w) if self.pool is None else (min(h, self.pool[0]), min(w, self.pool[1]))

    @torch.no_grad()
    def full_shapes(self, image_shape: Sequence[int]) -> list[tuple[int, int, int]]:
        """``(C_l, H_l, W_l)`` of every cut point before any pooling, for one input."""
        was_training = self.training
        self.eval()
        try:
            param = next(self.model.parameters())
            x = torch.zeros(1, *image_shape, device=param.device, dtype=param.dtype)
            pool, self.pool = self.pool, None
            try:
                feats = self.cut_points(x, range(1, self.num_layers + 1))
            finally:
                self.pool = pool
        finally:
            self.train(was_training)
        for node, f in zip(self.nodes, feats, strict=True):
            if f.ndim != 4:
                raise ConfigError(
                    f"cut point {node!r} gives a {tuple(f.shape[1:])} output; a cut point must"
                    " be a (C, H, W) feature map (a conv block's output) or (N, D) tokens"
                )
        return [tuple(int(v) for v in f.shape[1:]) for f in feats]

    def cut_shapes(self, image_shape: Sequence[int]) -> list[tuple[int, int, int]]:
        """``(C_l, H_l, W_l)`` of every cut point as the probe sees it (after any pooling)."""
        return [(c, *self.pooled_size((h, w))) for c, h, w in self.full_shapes(image_shape)]
