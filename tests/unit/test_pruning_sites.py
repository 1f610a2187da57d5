"""Where AFCC applies on real models, the arms built on it, and fine-tuning with masks held."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from filterscope.errors import ConfigError
from filterscope.models import CutModel, build_model
from filterscope.models.cuts import default_nodes
from filterscope.pruning.arms import build_arms
from filterscope.pruning.finetune import FineTune, apply_masks
from filterscope.pruning.hold import hold
from filterscope.pruning.rules import Site, afcc_masks
from filterscope.pruning.sites import plan, resolve_pairs

VGG = {"name": "vgg", "depth": 11, "width": 0.125, "batch_norm": True}
SHAPE = (3, 32, 32)


def cut(model_cfg: dict, shape: tuple[int, int, int] = SHAPE, pool: int | None = None) -> CutModel:
    torch.manual_seed(0)
    model = build_model(model_cfg, shape, 10)
    return CutModel(model, default_nodes(model), None if pool is None else (pool, pool))


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


def _fit(module: L.LightningModule, steps: int) -> None:
    torch.manual_seed(1)
    x, y = torch.randn(steps * 8, *SHAPE), torch.randint(0, 10, (steps * 8,))
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    trainer = L.Trainer(
        max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(module, train_dataloaders=loader)


def test_fine_tuning_holds_the_masks_and_trains_only_the_pruned_layers() -> None:
    model = cut(VGG)
    backbone = model.model
    found = plan(model, SHAPE, range(1, 9), 10, "deepest", True)
    rng = np.random.default_rng(0)
    masks = {"pair_07_08": rng.random((64, 64)) < 0.3, "head_08": rng.random((10, 64)) < 0.3}
    apply_masks(backbone, {t.site.name: t.module for t in found.targets}, masks)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    cfg = OmegaConf.create(
        {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2,
         "schedule": "constant", "epochs": 1, "channels_last": False, "compile": False,
         "accelerator": "cpu"}
    )  # fmt: skip
    ends = sorted({end for t in found.targets for end in t.ends})
    _fit(FineTune(backbone, cfg, 10, ends), steps=4)
    after = backbone.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("blocks.6.", "blocks.7.", "head.1.")) for k in changed)
    assert "blocks.6.1.running_mean" in changed  # trained blocks update their BatchNorm...
    assert "blocks.5.1.running_mean" not in changed  # ...frozen ones keep theirs
    backbone(torch.randn(2, *SHAPE))  # the forward recomputes weight = weight_orig * mask
    conv, head = backbone.get_submodule("blocks.7.0"), backbone.get_submodule("head.1")
    assert (conv.weight[torch.as_tensor(~masks["pair_07_08"])] == 0).all()
    assert (head.weight[torch.as_tensor(~masks["head_08"])] == 0).all()
    assert (conv.weight[torch.as_tensor(masks["pair_07_08"])] != 0).all()
