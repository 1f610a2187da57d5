"""A Vision Transformer as a backbone: its cut points are the blocks' output tokens, each
embedding dimension a unit (a node), and the nodes' fields sum to the probe's logits."""

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
SHAPE = (1, 28, 28)  # 16 patches of 7 x 7 and the class token: 17 tokens


def test_cut_points_are_each_blocks_tokens_one_map_per_embedding_dimension() -> None:
    torch.manual_seed(0)
    model = build_model(VIT, SHAPE, 10).eval()
    cut = CutModel(model, default_nodes(model))
    assert cut.nodes == ["blocks.0", "blocks.1", "blocks.2"]
    assert cut.cut_shapes(SHAPE) == [(32, 17, 1)] * 3
    x = torch.randn(2, *SHAPE)
    caught = []
    handle = model.blocks[1].register_forward_hook(lambda _m, _i, out: caught.append(out))
    model(x)
    handle.remove()
    (tokens,) = caught  # (B, N, D)
    (maps,) = cut.cut_points(x, [2])  # (B, D, N, 1): node d's map holds its value per token
    torch.testing.assert_close(maps[:, :, :, 0], tokens.transpose(1, 2))


@pytest.mark.parametrize("pool", [None, (1, 1)], ids=["every-token", "token-mean"])
def test_node_fields_sum_to_the_probe_logits_at_every_block(pool: tuple[int, int] | None) -> None:
    """docs/method.md's identity with "filter" read as "node": the fields of all nodes sum to
    the bias-free probe's logits, for the probe on every token and on the tokens' mean."""
    torch.manual_seed(1)
    model = build_model(VIT, SHAPE, 10).eval()
    cut = CutModel(model, default_nodes(model), pool)
    layers = [1, 2, 3]
    heads = ProbeHeads(cut, layers, cut.cut_shapes(SHAPE), 10, OmegaConf.create({"bias": False}))
    x = torch.randn(4, *SHAPE)
    weights = heads.weights()
    for layer, feats, out in zip(layers, cut.cut_points(x, layers), heads(x), strict=True):
        z = filter_fields(feats, weights[layer])
        assert z.shape == (4, 32, 10)  # one field per node and output
        torch.testing.assert_close(z.sum(1), out, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"patch": 5}, "model.patch=5 does not divide"), ({"heads": 5}, "multiple of model.heads")],
)
def test_a_shape_the_vit_cannot_take_is_refused(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model(VIT | options, SHAPE, 10)
