"""Transformers as backbones (timm's ViT, filterscope's CCT): their cut points are the blocks'
output tokens, each embedding dimension a unit (a node), or the attention's heads; the units'
fields sum to the probe's logits."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from filterscope.analysis import filter_fields
from filterscope.errors import ConfigError
from filterscope.models import CutModel, build_model
from filterscope.models.cuts import default_nodes
from filterscope.probing.heads import ProbeHeads

VIT = {"name": "vit", "dim": 32, "depth": 3, "heads": 4, "patch": 7}
CCT = {"name": "cct", "dim": 32, "depth": 3, "heads": 4}
SHAPE = (1, 28, 28)
TOKENS = {"vit": 17, "cct": 49}  # 16 patches of 7 x 7 and the class token; 7 x 7 after 2 poolings
NETS = pytest.mark.parametrize("net", [VIT, CCT], ids=["vit", "cct"])


@NETS
def test_cut_points_are_each_blocks_tokens_one_map_per_embedding_dimension(net: dict) -> None:
    torch.manual_seed(0)
    model = build_model(net, SHAPE, 10).eval()
    cut = CutModel(model, default_nodes(model))
    assert cut.nodes == ["blocks.0", "blocks.1", "blocks.2"]
    assert cut.cut_shapes(SHAPE) == [(32, TOKENS[net["name"]], 1)] * 3
    x = torch.randn(2, *SHAPE)
    caught = []
    handle = model.blocks[1].register_forward_hook(lambda _m, _i, out: caught.append(out))
    model(x)
    handle.remove()
    (tokens,) = caught  # (B, N, D)
    (maps,) = cut.cut_points(x, [2])  # (B, D, N, 1): node d's map holds its value per token
    torch.testing.assert_close(maps[:, :, :, 0], tokens.transpose(1, 2))


@NETS
@pytest.mark.parametrize(
    ("mode", "pool", "units"),
    [("blocks", None, 32), ("blocks", (1, 1), 32), ("heads", None, 4), ("heads", (8, 1), 4)],
    ids=["nodes", "nodes-token-mean", "heads", "heads-token-mean"],
)
def test_unit_fields_sum_to_the_probe_logits_at_every_block(
    net: dict, mode: str, pool: tuple[int, int] | None, units: int
) -> None:
    """docs/method.md's identity with "filter" read as "node" or "head": the fields of all
    units sum to the bias-free probe's logits, for the probe on every token and on the tokens'
    mean."""
    torch.manual_seed(1)
    model = build_model(net, SHAPE, 10).eval()
    cut = CutModel(model, default_nodes(model, mode), pool)
    layers = [1, 2, 3]
    heads = ProbeHeads(cut, layers, cut.cut_shapes(SHAPE), 10, OmegaConf.create({"bias": False}))
    x = torch.randn(4, *SHAPE)
    weights = heads.weights()
    for layer, feats, out in zip(layers, cut.cut_points(x, layers), heads(x), strict=True):
        z = filter_fields(feats, weights[layer])
        assert z.shape == (4, units, 10)  # one field per unit and output
        torch.testing.assert_close(z.sum(1), out, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (VIT | {"patch": 5}, "model.patch=5 does not divide"),
        (VIT | {"heads": 5}, "multiple of model.heads"),
        (CCT | {"heads": 5}, "multiple of model.heads"),
    ],
)
def test_a_shape_a_transformer_cannot_take_is_refused(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model(options, SHAPE, 10)


def _attention_heads(attn: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Each head's output ``softmax(q k^T / sqrt(d)) v``, ``(B, H, N, d)``, computed here from
    the attention's own qkv weights (independent of timm's forward and of the cut)."""
    b, n, c = tokens.shape
    h = attn.num_heads
    q, k, v = attn.qkv(tokens).reshape(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
    weights = torch.softmax(q @ k.transpose(-2, -1) / (c // h) ** 0.5, dim=-1)
    return weights @ v


@NETS
def test_heads_cut_each_attention_one_map_per_head_of_d_values_per_token(net: dict) -> None:
    torch.manual_seed(2)
    model = build_model(net, SHAPE, 10).eval()
    cut = CutModel(model, default_nodes(model, "heads"))
    assert cut.nodes == ["blocks.0.attn.norm", "blocks.1.attn.norm", "blocks.2.attn.norm"]
    assert cut.cut_shapes(SHAPE) == [(4, 8, TOKENS[net["name"]])] * 3  # 4 heads of 8 values
    x = torch.randn(2, *SHAPE)
    caught = []
    attn = model.blocks[1].attn
    handle = attn.register_forward_pre_hook(lambda _m, args: caught.append(args[0]))
    model(x)
    handle.remove()
    (maps,) = cut.cut_points(x, [2])  # (B, H, d, N)
    want = _attention_heads(attn, caught[0]).transpose(-2, -1)
    torch.testing.assert_close(maps, want, rtol=1e-5, atol=1e-5)


def test_a_cnn_has_no_heads() -> None:
    model = build_model({"name": "vgg", "depth": 11, "width": 0.125}, (3, 32, 32), 10)
    with pytest.raises(ConfigError, match="probe.cuts=heads needs a transformer"):
        default_nodes(model, "heads")


def test_the_cct_pools_its_tokens_by_their_learned_weights() -> None:
    """Sequence pooling: the head reads the attention-weighted mean of the last tokens."""
    torch.manual_seed(3)
    model = build_model(CCT, SHAPE, 10).eval()
    x = torch.randn(2, *SHAPE)
    tokens = model.tokenizer(x).flatten(2).transpose(1, 2) + model.position
    tokens = model.norm(model.blocks(tokens))
    weights = torch.softmax(model.attention_pool(tokens)[..., 0], dim=1)  # (B, N)
    pooled = torch.einsum("bn,bnd->bd", weights, tokens)
    torch.testing.assert_close(model(x), model.head(pooled))
