"""Cut points on any nn.Module: torchvision architectures, a user's module, the native Backbone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn

from filterscope.analysis import filter_fields
from filterscope.errors import ConfigError
from filterscope.models import CutModel, build_model
from filterscope.models.cuts import default_nodes, pool_grid, resolve_nodes
from filterscope.probing.heads import ProbeHeads

RESNET18 = {"name": "resnet18", "width": 0.125, "cifar_stem": True}
EFFNET = {"name": "efficientnet_b0", "width": 0.25, "cifar_stem": False}
PROBE = OmegaConf.create({"bias": False})


def hooked(model: nn.Module, names: list[str], x: torch.Tensor) -> list[torch.Tensor]:
    """The outputs of the named modules in one forward, caught by forward hooks (an
    implementation independent of the feature extraction under test)."""
    caught: dict[str, torch.Tensor] = {}
    handles = [
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: caught.__setitem__(name, out.clone())
        )
        for name in names
    ]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return [caught[name] for name in names]


@pytest.mark.parametrize(
    ("cfg", "blocks", "stages", "last"),
    [
        (RESNET18, 8, 4, "layer4.1"),
        ({"name": "resnet50", "width": 0.125}, 16, 4, "layer4.2"),
        (EFFNET, 17, 8, "features.8"),
        ({"name": "mobilenet_v3_small", "width": 0.5}, 12, 12, "features.12"),
    ],
)
def test_default_cut_points_of_torchvision_families(
    cfg: dict, blocks: int, stages: int, last: str
) -> None:
    model = build_model(cfg, (3, 32, 32), 10)
    nodes = default_nodes(model, "blocks")
    assert len(nodes) == blocks and nodes[-1] == last
    assert len(default_nodes(model, "stages")) == stages
    assert "features.0" not in nodes and "conv1" not in nodes  # the stem is not a block


@pytest.mark.parametrize("cfg", [RESNET18, EFFNET], ids=["resnet18", "efficientnet_b0"])
def test_cut_points_are_the_blocks_outputs(cfg: dict) -> None:
    torch.manual_seed(0)
    model = build_model(cfg, (3, 32, 32), 10).eval()
    cut = CutModel(model, default_nodes(model))
    x = torch.randn(3, 3, 32, 32)
    layers = [cut.num_layers, 1, 3]  # any order, deepest first
    got = cut.cut_points(x, layers)
    want = hooked(model, [cut.nodes[layer - 1] for layer in layers], x)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


@pytest.mark.parametrize("cfg", [RESNET18, EFFNET], ids=["resnet18", "efficientnet_b0"])
@pytest.mark.parametrize("pool", [None, (2, 2)], ids=["exact", "pooled"])
def test_fields_sum_to_the_probe_logits_at_every_cut_point(
    cfg: dict, pool: tuple[int, int] | None
) -> None:
    """docs/method.md's identity: sum over filters of z_f equals the probe's logits, at every cut
    point of the model, through the real probe heads."""
    torch.manual_seed(1)
    model = build_model(cfg, (3, 32, 32), 10).eval()
    cut = CutModel(model, default_nodes(model), pool)
    layers = list(range(1, cut.num_layers + 1))
    shapes = cut.cut_shapes((3, 32, 32))
    heads = ProbeHeads(cut, layers, shapes, 10, PROBE)
    x = torch.randn(4, 3, 32, 32)
    logits = heads(x)
    weights = heads.weights()
    for layer, feats, out in zip(layers, cut.cut_points(x, layers), logits, strict=True):
        assert tuple(feats.shape[1:]) == shapes[layer - 1]
        z = filter_fields(feats, weights[layer])
        torch.testing.assert_close(z.sum(1), out, rtol=1e-4, atol=1e-4)


def test_pooling_averages_to_at_most_the_grid() -> None:
    model = build_model(RESNET18, (3, 32, 32), 10).eval()
    exact = CutModel(model, default_nodes(model))
    pooled = CutModel(model, default_nodes(model), (4, 4))
    full = exact.full_shapes((3, 32, 32))
    assert pooled.cut_shapes((3, 32, 32)) == [(c, min(h, 4), min(w, 4)) for c, h, w in full]
    x = torch.randn(2, 3, 32, 32)
    a = exact.cut_points(x, [1])[0]
    torch.testing.assert_close(pooled.cut_points(x, [1])[0], F.avg_pool2d(a, a.shape[-1] // 4))


def test_vgg_native_path_equals_feature_extraction() -> None:
    """The Backbone keeps its native cut (its speed); torchvision's feature extraction of the
    same nodes gives bit-identical activations."""
    torch.manual_seed(2)
    model = build_model({"name": "vgg", "depth": 11, "width": 0.125}, (3, 32, 32), 10).eval()
    native = CutModel(model, default_nodes(model))
    assert native._native and native.nodes == [f"blocks.{i}" for i in range(8)]
    traced = CutModel(model, default_nodes(model)[:-1] + ["blocks.7"])
    traced._native = False
    x = torch.randn(3, 3, 32, 32)
    for a, b in zip(native.cut_points(x, [8, 1, 4]), traced.cut_points(x, [8, 1, 4]), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(native.cut_points(x, [2])[0], model.cut_points(x, [2])[0])


class Users(nn.Module):
    """A user's own network with functional ops between its modules."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.head = nn.Linear(6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.conv1(x))
        b = F.max_pool2d(F.relu(self.conv2(a)) + a, 2)
        return self.head(b.mean((2, 3)))


def test_a_users_module_with_named_cut_points() -> None:
    torch.manual_seed(3)
    model = Users().eval()
    with pytest.raises(ConfigError, match="no default cut points for a Users"):
        resolve_nodes(model, "blocks")
    nodes = resolve_nodes(model, ["conv1", "relu_1", "add", "max_pool2d"])  # module, graph nodes
    cut = CutModel(model, nodes)
    assert cut.cut_shapes((3, 8, 8)) == [(6, 8, 8), (6, 8, 8), (6, 8, 8), (6, 4, 4)]
    x = torch.randn(2, 3, 8, 8)
    conv1, relu1, add, pooled = cut.cut_points(x, [1, 2, 3, 4])
    a = F.relu(model.conv1(x))
    torch.testing.assert_close(conv1, model.conv1(x))
    torch.testing.assert_close(relu1, F.relu(model.conv2(a)))
    torch.testing.assert_close(add, F.relu(model.conv2(a)) + a)
    torch.testing.assert_close(pooled, F.max_pool2d(add, 2))


@pytest.mark.parametrize(
    ("cuts", "message"),
    [
        (["conv1", "conv9"], "no module or graph node 'conv9'; did you mean conv2, conv1"),
        (["conv1", "conv1"], "names a node twice"),
        ([], "allowed: blocks|stages or a list of node names"),
        ("layers", "allowed: blocks|stages"),
    ],
)
def test_bad_cut_points_are_refused(cuts: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_nodes(Users(), cuts)


def test_a_cut_point_must_be_a_feature_map() -> None:
    cut = CutModel(Users(), ["head"])
    with pytest.raises(ConfigError, match=r"'head' gives a \(5,\) output"):
        cut.cut_shapes((3, 8, 8))


@pytest.mark.parametrize(
    ("pool", "grid"), [(None, None), (4, (4, 4)), ([2, 3], (2, 3)), ((1, 1), (1, 1))]
)
def test_pool_grid(pool: object, grid: tuple[int, int] | None) -> None:
    assert pool_grid(pool) == grid


@pytest.mark.parametrize("pool", [0, True, [2], [2, 0], "4", 2.5, [2, 2.0]])
def test_bad_pool_grids_are_refused(pool: object) -> None:
    with pytest.raises(ConfigError, match="probe.pool="):
        pool_grid(pool)


def test_moving_the_model_rebuilds_the_traced_graph() -> None:
    model = build_model(RESNET18, (3, 32, 32), 10).eval()
    cut = CutModel(model, default_nodes(model))
    x = torch.randn(1, 3, 32, 32)
    before = cut.cut_points(x, [2])[0]
    cut.double()
    after = cut.cut_points(x.double(), [2])[0]
    assert after.dtype == torch.float64
    torch.testing.assert_close(after.float(), before, rtol=1e-4, atol=1e-5)
