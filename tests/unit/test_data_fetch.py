"""Fetching files from a directory, a file:// URL and a local http server, with md5 checks."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from filterscope.data.fetch import fetch_files, md5sum
from filterscope.data.registry import get_spec
from filterscope.errors import ConfigError, DataError

NAME = "t10k-labels-idx1-ubyte.gz"  # the smallest MNIST file (4.5 kB)
MD5 = "ec29112dd5afa0611ce80d1b7f02629c"
SPEC = get_spec("mnist")
FILES = [(NAME, MD5)]


@pytest.fixture
def source(mirror_dir: Path) -> Path:
    return mirror_dir / "mnist"


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_fetch_from_directory(source: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    assert fetch_files(str(source), SPEC, FILES, raw, progress=False) == [raw / NAME]
    assert md5sum(raw / NAME) == MD5
    assert sorted(p.name for p in raw.iterdir()) == [NAME]


def test_fetch_from_file_url(source: Path, tmp_path: Path) -> None:
    (path,) = fetch_files(source.as_uri(), SPEC, FILES, tmp_path, progress=False)
    assert md5sum(path) == MD5


def test_verified_file_is_not_fetched_again(source: Path, tmp_path: Path) -> None:
    fetch_files(str(source), SPEC, FILES, tmp_path, progress=False)
    # The source is gone now: the file already present with the right md5 must be reused.
    (path,) = fetch_files(str(tmp_path / "nowhere"), SPEC, FILES, tmp_path, progress=False)
    assert md5sum(path) == MD5


def test_stale_file_is_replaced(source: Path, tmp_path: Path) -> None:
    (tmp_path / NAME).write_bytes(b"stale")
    (path,) = fetch_files(str(source), SPEC, FILES, tmp_path, progress=False)
    assert md5sum(path) == MD5


def test_truncated_source_file_is_a_checksum_mismatch(source: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    cut.mkdir()
    data = (source / NAME).read_bytes()
    (cut / NAME).write_bytes(data[: len(data) // 2])
    raw = tmp_path / "raw"
    with pytest.raises(DataError) as exc:
        fetch_files(str(cut), SPEC, FILES, raw, progress=False)
    message = _one_line(exc)
    assert NAME in message and "checksum mismatch" in message and "truncated" in message
    assert list(raw.iterdir()) == []


def test_wrong_md5_leaves_no_file(source: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        fetch_files(str(source), SPEC, [(NAME, "0" * 32)], tmp_path, progress=False)
    message = _one_line(exc)
    assert NAME in message and "0" * 32 in message and MD5 in message
    assert list(tmp_path.iterdir()) == []


def test_missing_source_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="source file not found") as exc:
        fetch_files(str(tmp_path), SPEC, FILES, tmp_path / "raw", progress=False)
    assert str(tmp_path / NAME) in _one_line(exc)


def test_file_url_needs_an_absolute_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file:///"):
        fetch_files("file://relative/dir", SPEC, FILES, tmp_path, progress=False)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _ShortHandler(_QuietHandler):
    """Announces the whole file in Content-Length but sends only half of it."""

    def do_GET(self) -> None:
        data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True


def _serve(handler: type[http.server.BaseHTTPRequestHandler], directory: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(handler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def http_source(source: Path) -> Iterator[str]:
    yield from _serve(_QuietHandler, source)


@pytest.fixture
def short_http_source(source: Path) -> Iterator[str]:
    yield from _serve(_ShortHandler, source)


def test_fetch_over_http(http_source: str, tmp_path: Path) -> None:
    (path,) = fetch_files(http_source, SPEC, FILES, tmp_path, progress=False)
    assert md5sum(path) == MD5
    assert sorted(p.name for p in tmp_path.iterdir()) == [NAME]


def test_http_progress_bar_on_stderr(
    http_source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fetch_files(http_source.rstrip("/"), SPEC, FILES, tmp_path, progress=True)
    captured = capsys.readouterr()
    assert NAME in captured.err and captured.out == ""


def test_http_short_read_is_truncated(short_http_source: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="truncated") as exc:
        fetch_files(short_http_source, SPEC, FILES, tmp_path, progress=False)
    assert NAME in _one_line(exc)
    assert list(tmp_path.iterdir()) == []


def test_http_missing_file(http_source: str, tmp_path: Path) -> None:
    files = [("absent.gz", MD5)]
    with pytest.raises(DataError, match="source file not found") as exc:
        fetch_files(http_source, SPEC, files, tmp_path, progress=False)
    assert f"{http_source}absent.gz" in _one_line(exc)


def test_unreachable_host_suggests_a_mirror(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}/"
    with pytest.raises(DataError, match="cannot reach") as exc:
        fetch_files(base, SPEC, FILES, tmp_path, progress=False)
    message = _one_line(exc)
    assert f"{base}{NAME}" in message and "data.source=" in message


def test_official_url_is_the_default_source(source: Path, tmp_path: Path) -> None:
    # No network here: a spec whose official URL is the mirror shows that None means that URL.
    spec = replace(SPEC, official_url=str(source))
    (path,) = fetch_files(None, spec, FILES, tmp_path, progress=False)
    assert md5sum(path) == MD5
