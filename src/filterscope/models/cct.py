"""A Compact Convolutional Transformer (Hassani et al., "Escaping the Big Data Paradigm with
Compact Transformers", 2021) sized for 28x28 and 32x32 inputs on a CPU: a convolutional
tokenizer (``convs`` blocks of conv, ReLU and a 3x3 max-pool of stride 2), a learned position
embedding, ``depth`` pre-norm encoder blocks of ``heads`` heads (timm's ``Block``, so its cut
points, nodes and heads are a ViT's: docs/method.md, "Transformers: nodes and heads"), a final
LayerNorm and sequence pooling, the attention-weighted mean of the tokens, before the head.

Written here because no library we depend on has it: vit-pytorch ships one, but its attention
is written with einops, which torch.fx cannot trace (``Tensor type unknown to einops``), so
neither its blocks' outputs nor its heads could be cut."""

from __future__ import annotations

import torch
from torch import nn

from filterscope.models.vit import check_heads


class CCT(nn.Module):
    """CCT for ``image_size`` square inputs (the paper's CCT-7/3x1 is ``depth=7, convs=1,
    kernel=3, dim=256, heads=4``)."""

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        *,
        dim: int = 64,
        depth: int = 4,
        heads: int = 2,
        mlp_ratio: float = 2.0,
        convs: int = 2,
        kernel: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_heads(dim, heads)
        from timm.models.vision_transformer import Block  # timm takes a second to load

        layers: list[nn.Module] = []
        channels, side = in_channels, image_size
        for _ in range(convs):
            conv = nn.Conv2d(channels, dim, kernel, padding=kernel // 2, bias=False)
            layers += [conv, nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1)]
            channels, side = dim, (side - 1) // 2 + 1
        self.tokenizer = nn.Sequential(*layers)
        self.position = nn.Parameter(torch.randn(1, side * side, dim) * 0.02)
        self.blocks = nn.Sequential(*(Block(dim, heads, mlp_ratio) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.attention_pool = nn.Linear(dim, 1)
        self.head_drop = nn.Dropout(dropout)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.tokenizer(x).flatten(2).transpose(1, 2) + self.position
        tokens = self.norm(self.blocks(tokens))
        weights = torch.softmax(self.attention_pool(tokens), dim=1)  # (B, N, 1)
        pooled = (weights.transpose(1, 2) @ tokens).squeeze(1)
        return self.head(self.head_drop(pooled))
