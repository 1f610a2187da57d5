"""torchvision architectures by name, their small-input variants, and importing trained weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from filterscope.data.batches import IMAGENET, normalization, normalize
from filterscope.errors import ConfigError
from filterscope.models import build_model
from filterscope.models.imports import import_source, import_trained, load_into, state_dict_in
from filterscope.probing.budget import check_probe_memory, probe_bytes
from filterscope.training.classifier import Classifier, strided_pointwise


@pytest.mark.parametrize("width", [0.25, 1.0])
def test_builder_options_reach_torchvision(width: float) -> None:
    """EfficientNet's regularisers, narrowed (built from its stage settings) or not."""
    from torchvision.ops import StochasticDepth

    cfg = {"name": "efficientnet_b0", "width": width, "cifar_stem": True}
    default = build_model(cfg, (3, 32, 32), 10)
    assert default.classifier[0].p == 0.2
    assert max(m.p for m in default.modules() if isinstance(m, StochasticDepth)) > 0
    options = {"dropout": 0.0, "stochastic_depth_prob": 0.0}
    plain = build_model({**cfg, "options": options}, (3, 32, 32), 10)
    assert plain.classifier[0].p == 0.0
    assert all(m.p == 0.0 for m in plain.modules() if isinstance(m, StochasticDepth))
    with pytest.raises(ConfigError, match=r"model.options=\{'dropot': 0.1\} refused by"):
        build_model({**cfg, "options": {"dropot": 0.1}}, (3, 32, 32), 10)


def test_resnet_width_and_cifar_stem() -> None:
    model = build_model({"name": "resnet18", "width": 0.25, "cifar_stem": True}, (1, 28, 28), 10)
    assert model.conv1.in_channels == 1 and model.conv1.kernel_size == (3, 3)
    assert model.conv1.stride == (1, 1) and isinstance(model.maxpool, nn.Identity)
    widths = [getattr(model, f"layer{i}")[0].conv1.out_channels for i in range(1, 5)]
    assert widths == [16, 32, 64, 128] and model.fc.in_features == 128
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    full = build_model({"name": "resnet18"}, (3, 224, 224), 1000)
    assert full.conv1.kernel_size == (7, 7) and full.fc.in_features == 512


def test_efficientnet_width_and_stem() -> None:
    model = build_model({"name": "efficientnet_b0", "width": 0.25}, (3, 32, 32), 10)
    stem = model.features[0][0]
    assert stem.out_channels == 8 and stem.stride == (2, 2)
    small = build_model({"name": "efficientnet_b0", "cifar_stem": True}, (1, 28, 28), 10)
    assert small.features[0][0].in_channels == 1 and small.features[0][0].stride == (1, 1)
    assert small(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"name": "alexnet", "width": 0.5}, "not offered for alexnet"),
        ({"name": "alexnet", "cifar_stem": True}, "takes 3-channel inputs"),
        ({"name": "resnet18", "width": 0}, "model.width=0"),
        ({"name": "resnet18", "weights": "NOPE"}, "not a torchvision weight of resnet18"),
        ({"name": "resnet18", "weights": "DEFAULT", "width": 0.5}, "fits resnet18 as trained"),
        ({"name": "resnet18", "depth": 3}, "rejects its options"),
    ],
)
def test_bad_torchvision_configs_are_refused(cfg: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model(cfg, (3, 32, 32), 10)


def test_building_with_weights_downloads_nothing() -> None:
    """Weights are loaded by the train stage only: building (to check a config, or to load a
    trained model) works offline."""
    model = build_model({"name": "resnet18", "weights": "IMAGENET1K_V1"}, (3, 32, 32), 10)
    assert model.fc.out_features == 10


def tiny() -> nn.Module:
    return build_model({"name": "resnet18", "width": 0.125, "cifar_stem": True}, (3, 32, 32), 10)


def test_a_checkpoint_with_prefixed_keys_is_imported(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trained = tiny()
    path = tmp_path / "lightning.ckpt"
    state = {f"model.{k}": v for k, v in trained.state_dict().items()}
    torch.save({"epoch": 3, "state_dict": state, "hyper": {"lr": 0.1}}, path)
    fresh = tiny()
    info = import_trained(fresh, {"name": "resnet18", "checkpoint": str(path)})
    assert info["head"] == "imported" and info["checkpoint"] == str(path)
    assert len(info["sha256"]) == 64
    for key, value in trained.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)


def test_a_head_for_other_labels_stays_new() -> None:
    source = build_model({"name": "resnet18", "width": 0.125}, (3, 32, 32), 1000)
    target = build_model({"name": "resnet18", "width": 0.125}, (3, 32, 32), 10)
    head = target.fc.weight.clone()
    assert load_into(target, source.state_dict(), "weights") == "new"
    assert torch.equal(target.fc.weight, head)
    assert torch.equal(target.conv1.weight, source.conv1.weight)


def test_a_checkpoint_of_another_model_is_refused() -> None:
    other = build_model({"name": "resnet18", "width": 0.25}, (3, 32, 32), 10).state_dict()
    with pytest.raises(ConfigError, match=r"does not fit the configured model: \d+ with other"):
        load_into(tiny(), other, "model.checkpoint x.pt")
    with pytest.raises(ConfigError, match="missing"):
        load_into(tiny(), {"conv1.weight": tiny().conv1.weight}, "x")


@pytest.mark.parametrize("obj", [{"epoch": 3}, [1, 2], {"state_dict": {"a": 1}}])
def test_a_file_without_a_state_dict_is_refused(obj: object) -> None:
    with pytest.raises(ConfigError, match="holds no state dict"):
        state_dict_in(obj, "model.checkpoint x.pt")


def test_checkpoint_and_weights_are_exclusive() -> None:
    assert import_source({"name": "vgg"}) is None
    assert import_source({"checkpoint": "a.pt", "weights": None}) == "checkpoint"
    with pytest.raises(ConfigError, match="not both"):
        import_source({"checkpoint": "a.pt", "weights": "DEFAULT"})


def test_normalization_choices() -> None:
    assert normalization({"name": "vgg"}, 1) is None  # the [-1, 1] default
    assert normalization({"weights": "DEFAULT"}, 3) == IMAGENET  # auto with pretrained weights
    assert normalization({"normalize": {"mean": [0.5], "std": [0.25]}}, 1) == ((0.5,), (0.25,))
    with pytest.raises(ConfigError, match="3 value"):
        normalization({"normalize": {"mean": [0.5], "std": [0.5]}}, 3)
    with pytest.raises(ConfigError, match="model.normalize='imagenet'"):
        normalization({"normalize": "imagenet"}, 1)
    pixels = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    x = normalize(pixels, IMAGENET)
    mean, std = torch.tensor(IMAGENET[0]), torch.tensor(IMAGENET[1])
    torch.testing.assert_close(x[0, :, 0, 0], -mean / std)
    torch.testing.assert_close(x[0, :, 0, 1], (1 - mean) / std)
    assert torch.equal(normalize(pixels, None), pixels.float() / 127.5 - 1)


def test_probe_size_guard() -> None:
    # An ImageNet-size first cut point: 64x112x112 features, 1000 labels, SGD with momentum.
    need = probe_bytes((64, 112, 112), 1000, "sgd", 0.9)
    assert need == 4 * 3 * 1000 * 64 * 112 * 112
    assert probe_bytes((64, 112, 112), 1000, "adam", 0.9) == need // 3 * 4
    with pytest.raises(ConfigError) as refused:
        check_probe_memory({1: (64, 112, 112)}, 1000, "sgd", 0.9, 8 * 2**30, "the test")
    message = str(refused.value)
    assert "8.97 GiB" in message and "layer 1 on a 64x112x112 cut point" in message
    assert "probe.pool=4" in message and "11.72 MiB" in message  # 4*3*1000*64*16 bytes
    assert check_probe_memory({1: (64, 4, 4)}, 1000, "sgd", 0.9, 8 * 2**30, "the test") > 0


def test_resnets_train_contiguous_on_the_cpu() -> None:
    """The oneDNN channels-last backward of a strided 1x1 conv corrupts memory on the CPU for
    odd batch sizes (torch 2.14): a ResNet trains in the default memory format there."""
    cfg = OmegaConf.create(
        {"channels_last": True, "compile": False, "accelerator": "cpu", "optimizer": "sgd"}
    )
    resnet = Classifier(tiny(), cfg, 10)
    assert strided_pointwise(resnet.backbone) and resnet.contiguous_inputs
    assert resnet.backbone.conv1.weight.is_contiguous()
    vgg = Classifier(build_model({"name": "vgg", "width": 0.125}, (3, 32, 32), 10), cfg, 10)
    assert not strided_pointwise(vgg.backbone) and not vgg.contiguous_inputs
    assert vgg.backbone.blocks[1][0].weight.is_contiguous(memory_format=torch.channels_last)
    effnet = build_model({"name": "efficientnet_b0", "width": 0.25}, (3, 32, 32), 10)
    assert not strided_pointwise(effnet)
    x = torch.randn(39, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    loss = resnet(x).sum()
    loss.backward()  # an odd batch: would crash the process in channels-last memory
    assert resnet.backbone.conv1.weight.grad is not None
