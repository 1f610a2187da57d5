"""Writing and reading the prepared dataset folder, atomically and with checks."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from filterscope.data.acquire import prepare_dataset
from filterscope.data.fetch import md5sum
from filterscope.data.prepared import read_meta, read_split
from filterscope.data.prepared import write_prepared as write
from filterscope.data.registry import get_spec
from filterscope.errors import DataError

SPEC = replace(get_spec("mnist"), image_shape=(1, 4, 4), classes=("a", "b", "c"))
SOURCES = {"x.gz": "0" * 32}


def _splits() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    train = torch.arange(5 * 16, dtype=torch.uint8).reshape(5, 1, 4, 4)
    return {
        "train": (train, torch.tensor([0, 1, 1, 2, 2])),
        "test": (train[:2].flip(0).contiguous(), torch.tensor([2, 0])),
    }


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    out = tmp_path / "prepared" / "mnist"
    write(out, SPEC, _splits(), SOURCES)
    return out


def test_round_trip(prepared: Path) -> None:
    for split, (images, labels) in _splits().items():
        got_images, got_labels = read_split(prepared, split)
        assert torch.equal(got_images, images) and got_images.dtype == torch.uint8
        assert torch.equal(got_labels, labels) and got_labels.dtype == torch.int64
    assert sorted(p.name for p in prepared.iterdir()) == ["meta.json", "test.pt", "train.pt"]
    assert [p.name for p in prepared.parent.iterdir()] == ["mnist"]  # no temp dir left


def test_meta(prepared: Path) -> None:
    meta = read_meta(prepared)
    assert meta == json.loads((prepared / "meta.json").read_text())
    assert meta["name"] == "mnist"
    assert meta["classes"] == ["a", "b", "c"]
    assert meta["image_shape"] == [1, 4, 4]
    assert meta["counts"] == {"train": 5, "test": 2}
    assert meta["class_counts"] == {"train": [1, 2, 2], "test": [1, 0, 1]}
    assert meta["sources"] == SOURCES


def test_rewrite_replaces_old_folder(prepared: Path) -> None:
    (prepared / "stale.txt").write_text("old")
    splits = _splits()
    splits["test"] = (splits["test"][0][:1], splits["test"][1][:1])
    write(prepared, SPEC, splits, SOURCES)
    assert not (prepared / "stale.txt").exists()
    assert read_meta(prepared)["counts"]["test"] == 1
    assert [p.name for p in prepared.parent.iterdir()] == ["mnist"]


def test_crash_while_writing_keeps_old_folder(
    prepared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def save_then_crash(obj: object, f: object) -> None:
        calls.append(obj)
        if len(calls) == 2:
            raise KeyboardInterrupt
        torch.serialization.save(obj, f)  # type: ignore[arg-type]

    before = {p.name: p.read_bytes() for p in prepared.iterdir()}
    monkeypatch.setattr(torch, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        write(prepared, SPEC, _splits(), {"other.gz": "1" * 32})
    assert {p.name: p.read_bytes() for p in prepared.iterdir()} == before
    assert [p.name for p in prepared.parent.iterdir()] == ["mnist"]


def test_a_view_is_saved_without_its_base(tmp_path: Path) -> None:
    big = torch.zeros(10_000, 1, 4, 4, dtype=torch.uint8)
    labels = torch.zeros(10_000, dtype=torch.int64)
    write(tmp_path / "out", SPEC, {"train": (big[:3], labels[:3])}, SOURCES)
    assert (tmp_path / "out" / "train.pt").stat().st_size < 10_000


def test_write_rejects_bad_splits(tmp_path: Path) -> None:
    images, labels = _splits()["train"]
    with pytest.raises(DataError, match="mnist train split: images must be a uint8"):
        write(tmp_path / "out", SPEC, {"train": (images.float(), labels)}, SOURCES)
    with pytest.raises(DataError, match=r"labels span 1..3, outside 0..2"):
        write(tmp_path / "out", SPEC, {"train": (images, labels + 1)}, SOURCES)
    assert not (tmp_path / "out").exists()


def test_cut_short_split_file(prepared: Path) -> None:
    path = prepared / "train.pt"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as exc:
        read_split(prepared, "train")
    message = _one_line(exc)
    assert f"cannot load {path}" in message and "re-run the download stage" in message


@pytest.mark.parametrize("name", ["train.pt", "meta.json"])
def test_missing_file(prepared: Path, name: str) -> None:
    (prepared / name).unlink()
    with pytest.raises(DataError, match="prepared dataset file missing") as exc:
        read_split(prepared, "train")
    assert str(prepared / name) in _one_line(exc)


def test_corrupt_meta(prepared: Path) -> None:
    (prepared / "meta.json").write_text("{")
    with pytest.raises(DataError, match="cannot read .*meta.json"):
        read_meta(prepared)
    (prepared / "meta.json").write_text("{}")
    with pytest.raises(DataError, match="meta.json lacks the key 'name'"):
        read_meta(prepared)


def test_count_differs_from_meta(prepared: Path) -> None:
    meta = read_meta(prepared)
    meta["counts"]["train"] = 6
    (prepared / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="train.pt holds 5 samples but meta.json says 6") as exc:
        read_split(prepared, "train")
    _one_line(exc)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"images": torch.zeros(5, 1, 4, 4), "labels": torch.zeros(5).long()}, "uint8"),
        (
            {"images": torch.zeros(5, 1, 4, 4).byte(), "labels": torch.zeros(5).int()},
            "labels must be an int64",
        ),
        (
            {"images": torch.zeros(5, 1, 4, 4).byte(), "labels": torch.zeros(4).long()},
            "5 images but 4 labels",
        ),
        (
            {"images": torch.zeros(5, 1, 5, 5).byte(), "labels": torch.zeros(5).long()},
            r"expected \(1, 4, 4\)",
        ),
        ([1, 2], "does not hold an 'images'/'labels' dict"),
    ],
)
def test_bad_split_content(prepared: Path, content: object, message: str) -> None:
    torch.save(content, prepared / "train.pt")
    with pytest.raises(DataError, match=message) as exc:
        read_split(prepared, "train")
    assert "train.pt" in _one_line(exc)


def test_unknown_split(prepared: Path) -> None:
    with pytest.raises(DataError, match="has no split 'val'"):
        read_split(prepared, "val")


def _tiny_cifar10(path: Path) -> Path:
    batches = {f"data_batch_{i}": 2 for i in range(1, 6)} | {"test_batch": 3}
    with tarfile.open(path, "w:gz") as tar:
        for name, n in batches.items():
            batch = {"labels": [i % 10 for i in range(n)], "data": np.zeros((n, 3072), np.uint8)}
            blob = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def test_prepare_dataset(tmp_path: Path) -> None:
    archive = _tiny_cifar10(tmp_path / "tiny.tar.gz")
    files = [{"name": "tiny.tar.gz", "md5": md5sum(archive)}]
    raw, out = tmp_path / "raw", tmp_path / "prepared" / "cifar10"
    meta = prepare_dataset("cifar10", str(tmp_path), files, raw, out, progress=False)
    assert meta == read_meta(out)
    assert meta["counts"] == {"train": 10, "test": 3}
    assert meta["classes"] == list(get_spec("cifar10").classes)  # no meta member: the spec's
    assert meta["sources"] == {"tiny.tar.gz": md5sum(archive)}
    assert (raw / "cifar10" / "tiny.tar.gz").is_file()
    images, labels = read_split(out, "test")
    assert images.shape == (3, 3, 32, 32) and labels.tolist() == [0, 1, 2]
