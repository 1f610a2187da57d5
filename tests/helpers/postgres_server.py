"""A throwaway PostgreSQL cluster (Debian's postgresql) on a free loopback port, stopped on exit,
always."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.mlflow_server import free_port

# The server refuses to run as root: a root session runs its tools as the postgres user.
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
# No durability for a cluster that lives as long as one test (MLflow's migrations run faster).
SPEED = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


def bindir() -> Path:
    """The newest installed server's binaries; skips the test without them, except under CI,
    where it fails."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not found:
        message = "PostgreSQL is missing (Debian's postgresql package; `.ci/run` installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must have it")
        pytest.skip(message)
    return found[-1].parent


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh cluster listening on 127.0.0.1 only; yields the URI of its empty database."""
    tools, port = bindir(), free_port()
    # Its own folder in the system temp dir: pytest's tmp_path is closed to the postgres user.
    with tempfile.TemporaryDirectory(prefix="filterscope-pg-") as folder:
        root, data = Path(folder), Path(folder) / "data"
        if AS_POSTGRES:
            shutil.chown(root, "postgres")

        def pg(tool: str, *args: object, check: bool = True) -> None:
            cmd = [*AS_POSTGRES, str(tools / tool), *map(str, args)]
            proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
            log = root / "server.log"
            assert proc.returncode == 0 or not check, (
                f"{tool} failed: {proc.stderr}{log.read_text()[-2000:] if log.is_file() else ''}"
            )

        pg("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        try:
            options = f"-h 127.0.0.1 -p {port} -k {root} {SPEED}"
            pg("pg_ctl", "start", "-w", "-D", data, "-l", root / "server.log", "-o", options)
            pg("createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "filterscope")
            yield f"postgresql://postgres@127.0.0.1:{port}/filterscope"
        finally:
            pg("pg_ctl", "stop", "-w", "-D", data, "-m", "immediate", check=False)
