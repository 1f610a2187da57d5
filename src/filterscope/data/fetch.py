"""Fetch a dataset's original files from a directory, a ``file://`` URL or an http(s) host.

Every file is streamed to a temporary file beside its destination, checked against its md5 and
only then renamed into place, so a file under its final name is always complete and verified.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from filterscope.data.registry import DatasetSpec
from filterscope.errors import ConfigError, DataError

CHUNK_BYTES = 1 << 20
HTTP_TIMEOUT_S = 60.0


def md5sum(path: Path) -> str:
    """Hex md5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_files(
    source: str | None,
    spec: DatasetSpec,
    files: Sequence[tuple[str, str]],
    raw_dir: Path,
    progress: bool = True,
) -> list[Path]:
    """Fetch ``files`` ((filename, md5) pairs) into ``raw_dir``; return their paths there.

    ``source`` is None (the spec's official URL), a local directory, a ``file://`` URL of a
    directory or an http(s) base URL; a file's location is the source plus its name. A file that
    ``raw_dir`` already holds with the right md5 is not fetched again.
    """
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    base = spec.official_url if source is None else str(source)
    paths = []
    for name, md5 in files:
        md5 = md5.lower()
        dest = raw_dir / name
        if not (dest.is_file() and md5sum(dest) == md5):
            _fetch_one(base, name, md5, dest, progress)
        paths.append(dest)
    return paths


def _fetch_one(base: str, name: str, md5: str, dest: Path, progress: bool) -> None:
    parts = urllib.parse.urlsplit(base)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        url = (base if base.endswith("/") else base + "/") + urllib.parse.quote(name)
        with _open_url(url) as response:
            length = response.headers.get("Content-Length")
            _stream_verified(response, url, int(length) if length else None, md5, dest, progress)
        return
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(
                f"data.source={base}: a file URL needs an absolute path (file:///...)"
            )
        directory = Path(urllib.request.url2pathname(parts.path))
    else:
        directory = Path(base).expanduser()
    path = directory / name
    if not path.is_file():
        raise DataError(f"source file not found: {path} (data.source={base})")
    with open(path, "rb") as f:
        _stream_verified(f, str(path), os.fstat(f.fileno()).st_size, md5, dest, progress)


def _open_url(url: str) -> http.client.HTTPResponse:
    try:
        return urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise DataError(f"source file not found: {url} (HTTP 404)") from None
        raise DataError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"cannot reach {url} ({reason}); if this machine is offline, set "
            "data.source=<mirror> to a local directory or file:// URL holding the files"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"invalid download URL {url}: {exc}") from None


def _stream_verified(
    src: BinaryIO, where: str, length: int | None, md5: str, dest: Path, progress: bool
) -> None:
    """Copy ``src`` to a temp file beside ``dest``, verify size and md5, then rename into place."""
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")
    try:
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        bar = tqdm(
            total=length, unit="B", unit_scale=True, desc=dest.name,
            file=sys.stderr, disable=not progress,
        )  # fmt: skip
        with open(tmp, "xb") as out, bar:
            while chunk := _read_chunk(src, where):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                bar.update(len(chunk))
        if length is not None and size < length:
            raise DataError(
                f"download of {dest.name} truncated: got {size} of {length} bytes from {where}"
            )
        actual = digest.hexdigest()
        if actual != md5:
            raise DataError(
                f"checksum mismatch for {dest.name} from {where}: expected md5 {md5}, got "
                f"{actual} ({size} bytes; a truncated or different file)"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _read_chunk(src: BinaryIO, where: str) -> bytes:
    try:
        return src.read(CHUNK_BYTES)
    except http.client.IncompleteRead:
        raise DataError(f"download from {where} truncated: connection closed early") from None
    except OSError as exc:
        raise DataError(f"reading {where} failed: {exc}") from None
