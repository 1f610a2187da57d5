"""Where AFCC applies on real models, and the arms built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from filterscope.errors import ConfigError
from filterscope.pruning.arms import build_arms
from filterscope.pruning.hold import hold
from filterscope.pruning.rules import Site, afcc_masks
from filterscope.pruning.sites import plan, resolve_pairs
from tests.helpers.models import SHAPE, VGG, cut


def test_vgg_prunes_its_deepest_pair_and_its_flattened_head() -> None:
    model = cut(VGG)  # VGG-11: 8 conv blocks, 64 channels at 1x1 after the last pool
    found = plan(model, SHAPE, range(1, 9), 10, "deepest", True)
    assert [t.site.name for t in found.targets] == ["head_08", "pair_07_08"]
    head, pair = found.targets
    assert (pair.module, pair.per_connection, pair.ends) == (
        "blocks.7.0",
        9,
        ("blocks.6", "blocks.7"),
    )
    assert (head.module, head.per_connection, head.ends) == ("head.1", 1, ("blocks.7", "head.1"))
    assert found.skipped == []
    every = plan(model, SHAPE, [2, 3, 4, 6, 7], 10, "all", False)
    assert [t.site.name for t in every.targets] == ["pair_06_07", "pair_03_04", "pair_02_03"]


def test_a_head_on_a_flattened_map_holds_a_mask_per_channel() -> None:
    big = (3, 64, 64)  # VGG-11's last map is 2x2 here: 4 head weights per filter and output
    (head,) = plan(cut(VGG, big), big, [8], 10, [], True).targets
    assert (head.module, head.per_connection) == ("head.1", 4)
    linear = torch.nn.Linear(4 * 3 * 3, 10)  # 4 channels of 3x3, flattened in (C, H, W) order
    keep = np.zeros((10, 4), dtype=bool)
    keep[2, 1] = keep[5, 3] = True
    hold(linear, keep)
    nonzero = torch.nonzero(linear.weight).tolist()
    assert nonzero == [[2, c] for c in range(9, 18)] + [[5, c] for c in range(27, 36)]
    convnet = cut({"name": "convnet", "filters": 4, "hidden": 6}, (1, 8, 8))
    found = plan(convnet, (1, 8, 8), [1], 10, "deepest", True)
    assert found.targets == [] and "head.3 (6 inputs) reads neither" in found.skipped[0]


def test_torchvision_models_prune_the_head_alone_and_refuse_named_pairs() -> None:
    resnet = cut({"name": "resnet18", "width": 0.125, "cifar_stem": True})
    found = plan(resnet, SHAPE, range(1, 9), 10, "deepest", True)
    (head,) = found.targets
    assert (head.site.name, head.module, head.per_connection) == ("head_08", "fc", 1)
    assert head.ends == ("layer4.1", "fc")  # the spatial mean of layer4.1 feeds fc
    assert "conv-to-conv pruning needs" in found.skipped[0]
    with pytest.raises(ConfigError, match="prune.pairs: conv-to-conv pruning needs"):
        plan(resnet, SHAPE, range(1, 9), 10, [3], True)
    # A pooled probe still prunes the head on the exact cut point.
    pooled = cut({"name": "resnet18", "width": 0.125, "cifar_stem": True}, pool=1)
    assert plan(pooled, SHAPE, [8], 10, [], True).targets[0].per_connection == 1


def test_pairs_are_checked_against_the_probed_layers() -> None:
    assert resolve_pairs("deepest", [1, 2, 3, 5]) == ([2, 1], False)
    assert resolve_pairs([2, 1, 2], [1, 2, 3]) == ([1, 2], True)
    with pytest.raises(ConfigError, match=r"\[3\] do not have both"):
        resolve_pairs([3], [1, 2, 3, 5])
    with pytest.raises(ConfigError, match="prune.pairs='last'"):
        resolve_pairs("last", [1, 2])
    head_only = plan(cut(VGG), SHAPE, [8], 10, "deepest", True)
    assert [t.site.name for t in head_only.targets] == ["head_08"]
    assert plan(cut(VGG), SHAPE, [7], 10, "deepest", True).skipped[0].startswith("head: the last")


CLUSTERS = {3: [[(0, 1)], [(2,)], []], 4: [[(1,)], [(0,), (2,)]]}


def test_every_arm_keeps_afccs_count_per_site_and_dense_comes_first() -> None:
    sites = [Site(4), Site(3, 4)]
    weights = {"head_04": np.random.default_rng(0).random((3, 2, 1))}
    weights["pair_03_04"] = np.random.default_rng(1).random((2, 3, 9))
    arms = build_arms(
        ["afcc", "random", "magnitude", "dense"],
        [0.3, 0.5],
        sites,
        {0.3: CLUSTERS, 0.5: {3: [[(0,)], [], []], 4: [[(1,)], [(0,)]]}},
        weights,
        3,
        "drop",
        seed=0,
    )
    names = [arm.name for arm in arms]
    assert names[0] == "dense" and arms[0].masks == {}
    assert names[1:4] == ["afcc_theta_0.30", "random_theta_0.30", "magnitude_theta_0.30"]
    afcc = afcc_masks(sites, CLUSTERS, 3)
    for arm in arms[1:4]:
        assert {n: int(m.sum()) for n, m in arm.masks.items()} == {"head_04": 3, "pair_03_04": 3}
    assert all(np.array_equal(arms[1].masks[n], afcc[n]) for n in afcc)
    kept = arms[1].kept({"head_04": 1, "pair_03_04": 9})
    assert kept == pytest.approx({"head_04": 0.5, "pair_03_04": 0.5, "all": (3 + 27) / (6 + 54)})
    assert build_arms(["afcc", "dense"], [0.3], [], {0.3: {}}, {}, 3, "drop", 0) == []
