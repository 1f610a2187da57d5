"""Parsing gzip idx files and CIFAR python-pickle archives, on hand-made and real files."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from filterscope.data.convert import class_names, load_raw
from filterscope.data.registry import get_spec
from filterscope.errors import DataError

MNIST = get_spec("mnist")
CIFAR10 = get_spec("cifar10")
CIFAR100 = get_spec("cifar100")


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# --- idx ---------------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _idx_set(directory: Path, n_train: int = 3, n_test: int = 2) -> dict[str, Path]:
    """Four tiny idx files: image i is filled with the value i, label i is i % 10."""
    arrays = {
        "train-images-idx3-ubyte.gz": np.arange(n_train)[:, None, None] * np.ones((1, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte.gz": np.arange(n_test)[:, None, None] * np.ones((1, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(n_test) % 10,
    }
    paths = {}
    for name, array in arrays.items():
        paths[name] = directory / name
        paths[name].write_bytes(_idx_bytes(array))
    return paths


def test_idx_files_parse_to_uint8_nchw(tmp_path: Path) -> None:
    paths = _idx_set(tmp_path)
    splits = load_raw(MNIST, list(paths.values()))
    assert set(splits) == {"train", "test"}
    images, labels = splits["train"]
    assert images.shape == (3, 1, 28, 28) and images.dtype == torch.uint8
    assert images.is_contiguous()
    assert labels.tolist() == [0, 1, 2] and labels.dtype == torch.int64
    assert torch.equal(images[2], torch.full((1, 28, 28), 2, dtype=torch.uint8))
    assert splits["test"][0].shape == (2, 1, 28, 28)
    assert class_names(MNIST, list(paths.values())) == MNIST.classes


def test_idx_real_test_labels(mirror_dir: Path, tmp_path: Path) -> None:
    paths = _idx_set(tmp_path, n_test=10000)
    real = mirror_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    paths["t10k-labels-idx1-ubyte.gz"].write_bytes(real.read_bytes())
    labels = load_raw(MNIST, list(paths.values()))["test"][1]
    assert labels.shape == (10000,)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first MNIST test labels
    assert torch.bincount(labels).tolist()[0] == 980


@pytest.mark.parametrize(
    ("name", "corrupt"),
    [
        ("train-images-idx3-ubyte.gz", gzip.compress(bytes([0, 0, 0x0D, 3]) + bytes(12))),
        ("train-labels-idx1-ubyte.gz", gzip.compress(bytes([0, 0, 8, 3]) + bytes(12))),
        ("train-labels-idx1-ubyte.gz", gzip.compress(b"\x12\x34")),
    ],
    ids=["float-type-code", "labels-with-image-magic", "too-short"],
)
def test_idx_wrong_magic(tmp_path: Path, name: str, corrupt: bytes) -> None:
    paths = _idx_set(tmp_path)
    paths[name].write_bytes(corrupt)
    with pytest.raises(DataError, match="is not an idx file") as exc:
        load_raw(MNIST, list(paths.values()))
    assert str(paths[name]) in _one_line(exc)


def test_idx_truncated_gzip(mirror_dir: Path, tmp_path: Path) -> None:
    paths = _idx_set(tmp_path)
    real = (mirror_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    paths["t10k-labels-idx1-ubyte.gz"].write_bytes(real[: len(real) // 2])
    with pytest.raises(DataError, match="corrupt or truncated gzip file") as exc:
        load_raw(MNIST, list(paths.values()))
    assert "t10k-labels-idx1-ubyte.gz" in _one_line(exc)


def test_idx_not_gzip(tmp_path: Path) -> None:
    paths = _idx_set(tmp_path)
    paths["train-images-idx3-ubyte.gz"].write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        load_raw(MNIST, list(paths.values()))


def test_idx_data_shorter_than_header_says(tmp_path: Path) -> None:
    paths = _idx_set(tmp_path)
    data = gzip.decompress(paths["train-images-idx3-ubyte.gz"].read_bytes())
    paths["train-images-idx3-ubyte.gz"].write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_raw(MNIST, list(paths.values()))


def test_idx_count_mismatch(tmp_path: Path) -> None:
    paths = _idx_set(tmp_path)
    paths["train-labels-idx1-ubyte.gz"].write_bytes(_idx_bytes(np.zeros(2)))
    with pytest.raises(DataError, match="holds 3 images but .* holds 2 labels"):
        load_raw(MNIST, list(paths.values()))


def test_idx_missing_file(tmp_path: Path) -> None:
    paths = _idx_set(tmp_path)
    del paths["t10k-images-idx3-ubyte.gz"]
    with pytest.raises(DataError, match="no test images file"):
        load_raw(MNIST, list(paths.values()))


def test_idx_label_out_of_range(tmp_path: Path) -> None:
    paths = _idx_set(tmp_path)
    paths["t10k-labels-idx1-ubyte.gz"].write_bytes(_idx_bytes(np.array([3, 10])))
    with pytest.raises(DataError, match=r"test labels span 3..10, outside 0..9"):
        load_raw(MNIST, list(paths.values()))


def test_idx_wrong_image_size(tmp_path: Path) -> None:
    paths = _idx_set(tmp_path)
    spec = replace(MNIST, image_shape=(1, 32, 32))
    with pytest.raises(DataError, match=r"expected \(1, 32, 32\)"):
        load_raw(spec, list(paths.values()))


# --- CIFAR -------------------------------------------------------------------------------------


def _batch(n: int, offset: int, labels_key: str = "labels") -> dict[str, object]:
    rng = np.random.default_rng(offset)
    return {
        "batch_label": "testing batch",
        labels_key: [(offset + i) % 10 for i in range(n)],
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
    }


def _tar(path: Path, members: dict[str, object]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in members.items():
            blob = obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def _cifar10_members(meta: bool = True) -> dict[str, object]:
    root = "cifar-10-batches-py/"
    members: dict[str, object] = {f"{root}data_batch_{i}": _batch(2, i) for i in range(1, 6)}
    members[f"{root}test_batch"] = _batch(3, 7)
    if meta:
        members[f"{root}batches.meta"] = {"label_names": [f"c{i}" for i in range(10)]}
    return members


def test_cifar10_archive(tmp_path: Path) -> None:
    members = _cifar10_members()
    archive = _tar(tmp_path / "cifar.tar.gz", members)
    splits = load_raw(CIFAR10, [archive])
    images, labels = splits["train"]
    assert images.shape == (10, 3, 32, 32) and images.dtype == torch.uint8
    assert images.is_contiguous()
    assert labels.dtype == torch.int64
    assert labels.tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    # Row-major RGB planes: value of (channel c, row h, column w) is data[c*1024 + h*32 + w].
    data = members["cifar-10-batches-py/data_batch_2"]["data"]  # type: ignore[index]
    for c, h, w in [(0, 0, 0), (1, 5, 7), (2, 31, 30)]:
        assert images[2, c, h, w] == data[0, c * 1024 + h * 32 + w]
    assert splits["test"][0].shape == (3, 3, 32, 32)
    assert class_names(CIFAR10, [archive]) == tuple(f"c{i}" for i in range(10))


def test_cifar10_without_meta_uses_spec_classes(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "cifar.tar.gz", _cifar10_members(meta=False))
    assert class_names(CIFAR10, [archive]) == CIFAR10.classes


def test_cifar_bytes_keys(tmp_path: Path) -> None:
    members = {
        name: {k.encode(): v for k, v in batch.items()}  # type: ignore[attr-defined]
        for name, batch in _cifar10_members(meta=False).items()
    }
    archive = _tar(tmp_path / "cifar.tar.gz", members)
    assert load_raw(CIFAR10, [archive])["test"][1].tolist() == [7, 8, 9]


def test_cifar_missing_member(tmp_path: Path) -> None:
    members = _cifar10_members()
    del members["cifar-10-batches-py/data_batch_3"]
    archive = _tar(tmp_path / "cifar.tar.gz", members)
    with pytest.raises(DataError) as exc:
        load_raw(CIFAR10, [archive])
    message = _one_line(exc)
    assert "no member cifar-10-batches-py/data_batch_3" in message and str(archive) in message


def test_cifar_refuses_pickled_code(tmp_path: Path) -> None:
    members = _cifar10_members()
    members["cifar-10-batches-py/test_batch"] = pickle.dumps(os.getcwd, protocol=2)
    archive = _tar(tmp_path / "cifar.tar.gz", members)
    with pytest.raises(DataError, match="cannot unpickle test_batch .*refusing to load"):
        load_raw(CIFAR10, [archive])


def test_cifar_bad_data_shape(tmp_path: Path) -> None:
    members = _cifar10_members()
    members["cifar-10-batches-py/test_batch"] = {"labels": [0], "data": np.zeros((1, 100))}
    archive = _tar(tmp_path / "cifar.tar.gz", members)
    with pytest.raises(DataError, match=r"test_batch in .*: 'data' is float64 \(1, 100\)"):
        load_raw(CIFAR10, [archive])


def test_cifar_truncated_archive(mirror_dir: Path, tmp_path: Path) -> None:
    real = (mirror_dir / "cifar10-subset" / "cifar-10-python-subset.tar.gz").read_bytes()
    archive = tmp_path / "cifar-10-python-subset.tar.gz"
    archive.write_bytes(real[: len(real) // 2])
    with pytest.raises(DataError, match="corrupt or truncated archive") as exc:
        load_raw(CIFAR10, [archive])
    assert str(archive) in _one_line(exc)


def test_cifar100_archive(tmp_path: Path) -> None:
    members = {
        "cifar-100-python/train": _batch(4, 90, labels_key="fine_labels"),
        "cifar-100-python/test": _batch(2, 98, labels_key="fine_labels"),
        "cifar-100-python/meta": {"fine_label_names": list(CIFAR100.classes)},
    }
    archive = _tar(tmp_path / "cifar100.tar.gz", members)
    splits = load_raw(CIFAR100, [archive])
    assert splits["train"][1].tolist() == [0, 1, 2, 3]  # (90 + i) % 10
    assert splits["test"][0].shape == (2, 3, 32, 32)
    assert class_names(CIFAR100, [archive]) == CIFAR100.classes
