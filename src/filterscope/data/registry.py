"""Dataset specs: where each dataset's original files live, their checksums and their classes;
the checks of the ``data`` keys that convert a dataset (``format``, ``resize``, ``channels``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from filterscope.errors import ConfigError
from filterscope.sizes import size_pair

_MD5 = re.compile(r"^[0-9a-f]{32}$")
FORMATS = (None, "imagefolder", "torchvision")
"""``data.format``: the registered dataset ``data.name``, an image tree, a torchvision class."""


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: its original file format, official location, files, classes and image shape."""

    name: str
    format: str  # 'idx' | 'cifar10' | 'cifar100'
    official_url: str  # base URL; a file's URL is official_url + filename
    files: tuple[tuple[str, str], ...]  # (filename, md5)
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]  # (C, H, W)
    hflip: bool  # whether a horizontal flip keeps an image's class (augmentation)


_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

_FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

_CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

_CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
    "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
    "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
    "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
    "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
    "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
    "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
    "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman",
    "worm",
)  # fmt: skip

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        format="idx",
        official_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        files=tuple(
            zip(
                _IDX_FILES,
                (
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                    "9fb629c4189551a2d022fa330f9573f3",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
                strict=True,
            )
        ),
        classes=tuple(str(digit) for digit in range(10)),
        image_shape=(1, 28, 28),
        hflip=False,
    ),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        format="idx",
        official_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        files=tuple(
            zip(
                _IDX_FILES,
                (
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
                strict=True,
            )
        ),
        classes=_FASHION_CLASSES,
        image_shape=(1, 28, 28),
        hflip=False,
    ),
    "cifar10": DatasetSpec(
        name="cifar10",
        format="cifar10",
        official_url="https://www.cs.toronto.edu/~kriz/",
        files=(("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
        classes=_CIFAR10_CLASSES,
        image_shape=(3, 32, 32),
        hflip=True,
    ),
    "cifar100": DatasetSpec(
        name="cifar100",
        format="cifar100",
        official_url="https://www.cs.toronto.edu/~kriz/",
        files=(("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),),
        classes=_CIFAR100_CLASSES,
        image_shape=(3, 32, 32),
        hflip=True,
    ),
}


def parse_size(resize: Any) -> tuple[int, int] | None:
    """``data.resize``: null, an integer ``s`` (s x s) or ``[h, w]``."""
    return size_pair(resize, "data.resize")


def check_channels(channels: Any) -> int | None:
    """``data.channels``: null, 1 or 3."""
    if channels not in (None, 1, 3) or isinstance(channels, bool):
        raise ConfigError(f"data.channels={channels!r} (allowed: null, 1 or 3)")
    return channels


def get_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name``; ConfigError if there is none."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}"
        ) from None


def resolve_files(
    spec: DatasetSpec, files: Sequence[Mapping[str, Any] | Sequence[str]] | None
) -> tuple[tuple[str, str], ...]:
    """The (filename, md5) pairs to fetch: ``files`` (``data.files``) when given, else the spec's.

    Entries are ``{name, md5}`` mappings (as in the config) or ``(name, md5)`` pairs; None or an
    empty list means the dataset's official files.
    """
    if not files:
        return spec.files
    resolved = []
    for i, entry in enumerate(files):
        key = f"data.files[{i}]"
        if isinstance(entry, Mapping):
            if set(entry) != {"name", "md5"}:
                raise ConfigError(f"{key} must have exactly the keys 'name' and 'md5'")
            name, md5 = entry["name"], entry["md5"]
        elif isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) == 2:
            name, md5 = entry
        else:
            raise ConfigError(f"{key} must be a {{name, md5}} mapping, got {entry!r}")
        if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name:
            raise ConfigError(f"{key}.name must be a plain file name, got {name!r}")
        md5 = str(md5).lower()
        if not _MD5.match(md5):
            raise ConfigError(f"{key}.md5 must be 32 hex digits, got {entry!r}")
        resolved.append((name, md5))
    return tuple(resolved)
