"""``python -m filterscope.data.testdata DEST``: the test suite's datasets from the official hosts,
for a machine without a dataset mirror (``make test-data``).

``DEST`` gets the mirror's layout: ``mnist/`` and ``fashion-mnist/`` (the official files, checked
against their md5s) and ``cifar10-subset/cifar-10-python-subset.tar.gz``, derived from the
official ``cifar-10-python.tar.gz`` by the mirror's rule: the first 1,017 images of each training
batch and of the test batch, in the original layout (batch dicts with ``batch_label``, ``labels``
and ``data``; ``batches.meta`` and ``readme.html`` as they are). The archive is written byte for
byte as the mirror's (Python 2 pickles, GNU tar, gzip -9 -n), so its md5, the one
``conf/data/cifar10_subset.yaml`` pins, is the check of its content.
"""

from __future__ import annotations

import argparse
import io
import pickle
import struct
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from filterscope.data.fetch import fetch_files, md5sum
from filterscope.data.registry import DATASETS
from filterscope.errors import DataError

SUBSET = "cifar-10-python-subset.tar.gz"
SUBSET_MD5 = "5368c7386bce7eb7594ca88804932787"
PER_BATCH = 1017
FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}
"""The idx datasets the tests read, by registry name, with their folder in the mirror."""
_ROOT = "cifar-10-batches-py"
_MEMBERS = ("batches.meta", *(f"data_batch_{i}" for i in range(1, 6)), "readme.html", "test_batch")


def _short(text: bytes) -> bytes:
    return b"U" + bytes([len(text)]) + text


def batch_pickle(label: bytes, labels: list[int], data: np.ndarray) -> bytes:
    """A CIFAR batch dict pickled as the original archive's Python 2 cPickle wrote it (protocol 2,
    no memo, appends in runs of 1,000)."""
    rows, width = data.shape
    out = [b"\x80\x02}(", _short(b"batch_label"), _short(label), _short(b"labels"), b"]"]
    for start in range(0, len(labels), 1000):
        out += [b"(", *(b"K" + bytes([v]) for v in labels[start : start + 1000]), b"e"]
    out += [
        _short(b"data"),
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01",
        b"M" + struct.pack("<H", rows) + b"M" + struct.pack("<H", width) + b"\x86",
        b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff",
        b"K\x00tb\x89T" + struct.pack("<I", data.nbytes),
        np.ascontiguousarray(data, dtype=np.uint8).tobytes(),
        b"tbu.",
    ]
    return b"".join(out)


def _gzip9(payload: bytes) -> bytes:
    """``gzip -9 -n``: no name, no time, Unix; zlib's level 9 gives the same deflate stream."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    body = deflate.compress(payload) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(payload), len(payload) & 0xFFFFFFFF)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03" + body + trailer


def derive_subset(archive: Path, dest: Path, per_batch: int = PER_BATCH) -> Path:
    """``dest/cifar-10-python-subset.tar.gz``: the first ``per_batch`` images of each batch of the
    CIFAR-10 ``archive`` (the official one, or a subset of it), in its own layout."""
    with tarfile.open(archive) as src:
        found = {m.name.removeprefix(f"{_ROOT}/"): m for m in src.getmembers()}
        missing = [name for name in _MEMBERS if name not in found]
        if missing or _ROOT not in found:
            raise DataError(f"{archive} is not a CIFAR-10 python archive: it lacks {missing}")
        blobs = {name: src.extractfile(found[name]).read() for name in _MEMBERS}  # type: ignore[union-attr]
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.GNU_FORMAT) as out:
        root = found[_ROOT]
        folder = tarfile.TarInfo(_ROOT)
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, root.mode, root.mtime
        out.addfile(folder)
        for name in _MEMBERS:
            blob = blobs[name]
            if name.startswith(("data_batch", "test_batch")):
                batch = pickle.loads(blob, encoding="bytes")
                data = np.asarray(batch[b"data"], dtype=np.uint8)[:per_batch]
                blob = batch_pickle(batch[b"batch_label"], batch[b"labels"][:per_batch], data)
            info = tarfile.TarInfo(f"{_ROOT}/{name}")
            info.size, info.mode, info.mtime = len(blob), found[name].mode, found[name].mtime
            out.addfile(info, io.BytesIO(blob))
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / SUBSET
    path.write_bytes(_gzip9(tar.getvalue()))
    return path


def fetch_test_data(
    dest: Path, sources: Mapping[str, str] | None = None, cifar_md5: str | None = None
) -> Path:
    """The mirror's three folders under ``dest``, from the official hosts or ``sources`` (by
    registry name: ``mnist``, ``fashion_mnist``, ``cifar10``; a folder or a URL, as
    ``data.source`` takes). ``cifar_md5`` replaces the official archive's md5 (a stand-in for
    it in tests); the derived subset must have :data:`SUBSET_MD5` either way."""
    sources = dict(sources or {})
    for name, folder in FOLDERS.items():
        spec = DATASETS[name]
        fetch_files(sources.get(name), spec, spec.files, dest / folder)
    spec = DATASETS["cifar10"]
    ((archive, md5),) = spec.files
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        (full,) = fetch_files(
            sources.get("cifar10"), spec, [(archive, cifar_md5 or md5)], Path(tmp)
        )
        subset = derive_subset(full, dest / "cifar10-subset")
    if (found := md5sum(subset)) != SUBSET_MD5:
        subset.unlink()
        raise DataError(
            f"the CIFAR-10 subset derived from {archive} has md5 {found}, not {SUBSET_MD5}"
        )
    return dest


def main(argv: list[str] | None = None) -> int:
    """Fetch the test data into the folder given; the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m filterscope.data.testdata", description=__doc__
    )
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    try:
        fetch_test_data(args.dest.resolve())
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"test data in {args.dest}: set FILTERSCOPE_MIRROR={args.dest.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
