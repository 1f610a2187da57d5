"""The download stage's library entry point on the real datasets of the offline mirror."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from filterscope.data.acquire import prepare_dataset
from filterscope.data.batches import DeviceBatches, split_train_val
from filterscope.data.prepared import read_meta, read_split

pytestmark = pytest.mark.integration

SUBSET = {"name": "cifar-10-python-subset.tar.gz", "md5": "5368c7386bce7eb7594ca88804932787"}


def _prepare(root: Path, name: str, source: str, files: list[dict[str, str]] | None) -> Path:
    out = root / "prepared" / name
    meta = prepare_dataset(name, source, files, root / "raw", out, progress=False)
    assert meta == json.loads((out / "meta.json").read_text())
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def mnist(root: Path, mirror_dir: Path) -> Path:
    return _prepare(root, "mnist", str(mirror_dir / "mnist"), None)  # a plain path


@pytest.fixture(scope="module")
def fashion(root: Path, mirror_dir: Path) -> Path:
    return _prepare(root, "fashion_mnist", (mirror_dir / "fashion-mnist").as_uri(), None)


@pytest.fixture(scope="module")
def cifar(root: Path, mirror_dir: Path) -> Path:
    return _prepare(root, "cifar10", str(mirror_dir / "cifar10-subset"), [SUBSET])


def _check(prepared: Path, counts: dict[str, int], shape: tuple[int, ...]) -> dict[str, Any]:
    meta = read_meta(prepared)
    assert meta["counts"] == counts
    assert meta["image_shape"] == list(shape)
    for split, n in counts.items():
        images, labels = read_split(prepared, split)
        assert images.shape == (n, *shape) and images.dtype == torch.uint8
        assert images.is_contiguous()
        assert labels.shape == (n,) and labels.dtype == torch.int64
        assert labels.min() == 0 and labels.max() == 9
        assert torch.bincount(labels, minlength=10).tolist() == meta["class_counts"][split]
    return meta


def test_mnist(mnist: Path) -> None:
    meta = _check(mnist, {"train": 60000, "test": 10000}, (1, 28, 28))
    assert meta["classes"] == [str(i) for i in range(10)]
    assert meta["class_counts"]["test"] == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert meta["sources"]["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    images, labels = read_split(mnist, "train")
    assert labels[:3].tolist() == [5, 0, 4]
    assert images.float().mean().item() / 255 == pytest.approx(0.1307, abs=1e-4)  # known mean


def test_fashion_mnist(fashion: Path) -> None:
    meta = _check(fashion, {"train": 60000, "test": 10000}, (1, 28, 28))
    assert meta["classes"][0] == "T-shirt/top" and meta["classes"][9] == "Ankle boot"
    assert meta["class_counts"]["train"] == [6000] * 10
    assert meta["class_counts"]["test"] == [1000] * 10
    images, _ = read_split(fashion, "train")
    assert images.float().mean().item() / 255 == pytest.approx(0.2860, abs=1e-4)  # known mean


def test_mnist_and_fashion_keep_separate_raw_files(mnist: Path, fashion: Path, root: Path) -> None:
    names = {p.name for p in (root / "raw" / "mnist").iterdir()}
    assert names == {p.name for p in (root / "raw" / "fashion_mnist").iterdir()}
    assert len(names) == 4


def test_cifar10_subset(cifar: Path) -> None:
    meta = _check(cifar, {"train": 5085, "test": 1017}, (3, 32, 32))
    assert meta["classes"] == [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ]  # fmt: skip
    assert meta["class_counts"]["test"] == [105, 93, 100, 104, 92, 87, 114, 102, 110, 110]
    assert meta["sources"] == {SUBSET["name"]: SUBSET["md5"]}
    images, _ = read_split(cifar, "train")
    means = images.float().mean(dim=(0, 2, 3)) / 255  # near CIFAR-10's (0.491, 0.482, 0.447)
    assert torch.allclose(means, torch.tensor([0.491, 0.482, 0.447]), atol=0.02)


def test_second_call_reuses_verified_raw_files(cifar: Path, root: Path) -> None:
    raw = root / "raw" / "cifar10" / SUBSET["name"]
    stamp = raw.stat().st_mtime_ns
    # The source is gone: only the already verified raw file can serve this call.
    out = _prepare(root, "cifar10", str(root / "no-such-mirror"), [SUBSET])
    assert out == cifar
    assert raw.stat().st_mtime_ns == stamp
    assert read_meta(cifar)["counts"] == {"train": 5085, "test": 1017}


def test_batches_over_prepared_split(cifar: Path) -> None:
    images, labels = read_split(cifar, "train")
    (train_x, train_y), (val_x, val_y) = split_train_val(images, labels, 0.1, seed=0)
    assert len(val_y) == 508 and len(train_y) == 4577
    batches = DeviceBatches(train_x, train_y, 100, shuffle=True, augment=True, hflip=True)
    assert len(batches) == 46
    total = 0
    for x, y in batches:
        assert x.dtype == torch.float32 and x.shape[1:] == (3, 32, 32)
        assert x.min() >= -1 and x.max() <= 1
        total += len(y)
    assert total == 4577
