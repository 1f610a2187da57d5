"""Fine-tuning a pruned VGG: the masks hold and only the layers at either end of a pruned
connection train."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from filterscope.pruning.finetune import FineTune, apply_masks
from filterscope.pruning.sites import plan
from tests.helpers.models import SHAPE, VGG, cut

pytestmark = pytest.mark.integration


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
