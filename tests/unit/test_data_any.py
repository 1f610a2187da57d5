"""Any image dataset: image trees, torchvision classes, resize, channels, label subsets and the
checksum of the converted arrays."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from filterscope.data.acquire import prepare_dataset
from filterscope.data.imagefolder import load_imagefolder
from filterscope.data.images import convert, select_classes, stack_pictures
from filterscope.data.prepared import check_options, is_prepared, read_meta, read_split
from filterscope.data.registry import parse_size
from filterscope.data.tvdatasets import dataset_class
from filterscope.errors import ConfigError, DataError


def _png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _tree(root: Path, classes: dict[str, int], size: tuple[int, int] = (6, 5)) -> Path:
    """``root/{train,test}/<class>/<i>.png``: ``n`` RGB images per class, class k all value k."""
    for split in ("train", "test"):
        for k, (name, n) in enumerate(classes.items()):
            for i in range(n):
                _png(root / split / name / f"{i}.png", np.full((*size, 3), 10 * k + i, np.uint8))
    return root


def test_select_classes_keeps_and_renumbers_in_the_given_order() -> None:
    images = torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    kept, names = select_classes({"train": (images, labels)}, ["a", "b", "c"], ["c", 0])
    assert names == ["c", "a"]
    assert kept["train"][1].tolist() == [1, 0, 1, 0]
    assert kept["train"][0].flatten().tolist() == [0, 2, 3, 5]
    assert select_classes({"t": (images, labels)}, ["a", "b", "c"], None)[1] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (["cat", "dgo"], "no label 'dgo' \\(did you mean dog"),
        (["cat", "cat"], "twice"),
        (["cat"], "2+"),
    ],
)
def test_bad_label_subsets_are_refused(wanted: list, message: str) -> None:
    splits = {"train": (torch.zeros(2, 1, 1, 1, dtype=torch.uint8), torch.tensor([0, 1]))}
    with pytest.raises(ConfigError, match=message):
        select_classes(splits, ["cat", "dog"], wanted)


def test_convert_resizes_and_changes_channels() -> None:
    gray = torch.full((2, 1, 4, 4), 200, dtype=torch.uint8)
    rgb = convert(gray, (8, 6), 3)
    assert rgb.shape == (2, 3, 8, 6) and int(rgb.min()) == int(rgb.max()) == 200
    back = convert(rgb, None, 1)
    assert back.shape == (2, 1, 8, 6) and int(back.max()) in (199, 200)  # luma weights: 0.9999
    assert parse_size(28) == (28, 28) and parse_size([24, 32]) == (24, 32)
    with pytest.raises(ConfigError, match="data.resize"):
        parse_size([0, 3])


def test_an_image_tree_is_converted(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree", {"dog": 2, "cat": 3})
    splits, classes = load_imagefolder(root, None, None, progress=False)
    assert classes == ["cat", "dog"]  # sorted folder names, ImageFolder's numbering
    images, labels = splits["train"]
    assert images.shape == (5, 3, 6, 5) and images.dtype == torch.uint8
    assert labels.tolist() == [0, 0, 0, 1, 1]
    assert images[:, 0, 0, 0].tolist() == [10, 11, 12, 0, 1]
    gray, _ = load_imagefolder(root, (4, 4), 1, progress=False)
    assert gray["test"][0].shape == (5, 1, 4, 4)


def test_broken_image_trees_give_one_line(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t", {"a": 1, "b": 1})
    shutil.rmtree(root / "test" / "b")
    with pytest.raises(DataError, match="train and test hold different class folders \\(b in"):
        load_imagefolder(root, None, None, progress=False)
    shutil.rmtree(root / "test")
    with pytest.raises(DataError, match="image folder .*/test is missing"):
        load_imagefolder(root, None, None, progress=False)
    root = _tree(tmp_path / "u", {"a": 2, "b": 1})
    _png(root / "train" / "b" / "big.png", np.zeros((9, 9, 3), np.uint8))
    with pytest.raises(DataError, match="big.png is 9x9 but .* is 5x6 .*data.resize"):
        load_imagefolder(root, None, None, progress=False)
    (root / "train" / "b" / "big.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="cannot read image .*big.png"):
        load_imagefolder(root, None, None, progress=False)
    empty = tmp_path / "e"
    (empty / "train" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="Found no valid file"):
        load_imagefolder(empty, None, None, progress=False)


def test_no_pictures_and_mode_from_the_first() -> None:
    with pytest.raises(DataError, match="no images"):
        stack_pictures([], None, None)
    gray = Image.fromarray(np.full((2, 2), 7, np.uint8))
    rgb = Image.fromarray(np.full((2, 2, 3), 9, np.uint8))
    both = stack_pictures([(lambda: gray, "g"), (lambda: rgb, "c")], None, None)
    assert both.shape == (2, 1, 2, 2)  # the first image is grayscale: all become grayscale


def test_a_prepared_tree_records_and_verifies_its_checksum(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree", {"a": 2, "b": 2, "c": 1})
    options = {"format": "imagefolder", "classes": ["c", "a"], "hflip": True, "resize": 4}
    out = tmp_path / "prepared"
    meta = prepare_dataset("mine", str(root), None, tmp_path / "raw", out, False, options)
    assert meta["classes"] == ["c", "a"] and meta["image_shape"] == [3, 4, 4]
    assert meta["counts"] == {"train": 3, "test": 3} and meta["hflip"] is True
    assert len(meta["sha256"]["train"]) == 64
    images, labels = read_split(out, "train")
    assert labels.tolist() == [1, 1, 0]
    torch.save({"images": images.flip(0).contiguous(), "labels": labels}, out / "train.pt")
    with pytest.raises(DataError, match="does not match the SHA-256"):
        read_split(out, "train")


def test_a_registered_dataset_takes_the_conversions(tmp_path: Path, mirror_dir: Path) -> None:
    options = {"classes": [7, "1"], "resize": [14, 14], "channels": 3}
    out = tmp_path / "mnist"
    meta = prepare_dataset("mnist", str(mirror_dir / "mnist"), None, tmp_path, out, False, options)
    assert meta["classes"] == ["7", "1"] and meta["image_shape"] == [3, 14, 14]
    assert meta["hflip"] is False  # the registered dataset's own
    full = read_meta(out)["class_counts"]
    assert full["test"] == [1028, 1135]  # MNIST's test set: 1,028 sevens and 1,135 ones


def test_a_prepared_folder_refuses_readers_asking_for_other_options(tmp_path: Path) -> None:
    """A label-subset sweep sharing one prepared folder would train every job on one subset:
    the folder records its options and a reader asking for others is refused."""
    root = _tree(tmp_path / "tree", {"a": 2, "b": 2, "c": 1})
    options = {"format": "imagefolder", "classes": ["c", "a"]}
    out = tmp_path / "prepared"
    meta = prepare_dataset("mine", str(root), None, tmp_path / "raw", out, False, options)
    assert meta["options"] == {
        "format": "imagefolder", "dataset": None, "resize": None, "channels": None,
        "classes": ["c", "a"], "hflip": None,
    }  # fmt: skip
    same = OmegaConf.create({**options, "val_fraction": 0.1, "source": "elsewhere"})
    check_options(meta, same, out)
    assert is_prepared(out, same)
    other = OmegaConf.create({**options, "classes": ["a", "b"]})
    with pytest.raises(DataError) as exc:
        check_options(meta, other, out)
    assert "data.classes=['c', 'a'] there, ['a', 'b'] here" in str(exc.value)
    assert "\n" not in str(exc.value) and not is_prepared(out, other)
    assert not is_prepared(tmp_path / "nothing", same)
    check_options({k: v for k, v in meta.items() if k != "options"}, other, out)  # older folder


def test_a_torchvision_class_reads_the_mirror_files(tmp_path: Path, mirror_dir: Path) -> None:
    """torchvision's own FashionMNIST reader over the mirror's files gives exactly our
    conversion of them."""
    raw = tmp_path / "tv" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for path in (mirror_dir / "fashion-mnist").glob("*.gz"):  # as torchvision's download leaves
        with gzip.open(path) as packed, open(raw / path.stem, "wb") as unpacked:
            shutil.copyfileobj(packed, unpacked)
    options = {"format": "torchvision", "dataset": "FashionMNIST", "hflip": False}
    tv = prepare_dataset("fm", str(tmp_path / "tv"), None, tmp_path, tmp_path / "a", False, options)
    ours = prepare_dataset(
        "fashion_mnist", str(mirror_dir / "fashion-mnist"), None, tmp_path, tmp_path / "b", False
    )
    assert tv["classes"] == ours["classes"] and tv["sha256"] == ours["sha256"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("Nope", "not a torchvision.datasets class"), ("FakeData", "has no train/test split")],
)
def test_bad_torchvision_classes_are_refused(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        dataset_class(name)


def test_a_missing_torchvision_dataset_gives_one_line(tmp_path: Path) -> None:
    options = {"format": "torchvision", "dataset": "SVHN"}
    with pytest.raises(DataError, match="torchvision's SVHN in .*Dataset not found"):
        prepare_dataset("svhn", str(tmp_path), None, tmp_path, tmp_path / "out", False, options)
