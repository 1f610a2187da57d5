"""A Vision Transformer sized for 28x28 and 32x32 inputs on a CPU: timm's ``VisionTransformer``
(patches of ``patch`` px embedded in ``dim`` dimensions, ``depth`` encoder blocks of ``heads``
heads each, a class token read by the head). Its cut points are the blocks' output tokens, a
unit one embedding dimension (a *node*), or with ``probe.cuts=heads`` each attention's heads
(docs/method.md, "Transformers: nodes and heads")."""

from __future__ import annotations

from torch import nn

from filterscope.errors import ConfigError


def check_heads(dim: int, heads: int) -> None:
    """Refuse an embedding that ``heads`` heads cannot split evenly (timm would only assert)."""
    if dim % heads:
        raise ConfigError(f"model.dim={dim} is not a multiple of model.heads={heads}")


def build_vit(
    in_channels: int,
    image_size: int,
    num_classes: int,
    *,
    dim: int = 64,
    depth: int = 6,
    heads: int = 4,
    patch: int = 4,
    mlp_ratio: float = 2.0,
    dropout: float = 0.0,
) -> nn.Module:
    """timm's ViT for ``image_size`` square inputs; ``dropout`` before the head, as the CNNs'."""
    if image_size % patch:
        raise ConfigError(f"model.patch={patch} does not divide the {image_size} px images")
    check_heads(dim, heads)
    from timm.models.vision_transformer import VisionTransformer  # timm takes a second to load

    return VisionTransformer(
        img_size=image_size,
        patch_size=patch,
        in_chans=in_channels,
        num_classes=num_classes,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        mlp_ratio=mlp_ratio,
        drop_rate=dropout,
    )
