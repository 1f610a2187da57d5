"""``params.yaml`` = ``conf/`` composed, exactly as DVC's Hydra composition writes it, with the
overrides it was composed with on its first line.

``python -m filterscope.params [overrides...]`` rewrites it (``make params``, ``make run``).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

HEADER = "# conf/ composed by `python -m filterscope.params` with overrides:"


def write_params(root: Path, overrides: Sequence[str] = ()) -> Path:
    """Compose ``root/conf/config.yaml`` with ``overrides`` into ``root/params.yaml``."""
    from dvc.utils.hydra import compose_and_dump

    root = Path(root).resolve()
    out = root / "params.yaml"
    compose_and_dump(out, str(root / "conf"), None, "config", str(root), list(overrides))
    out.write_text(f"{HEADER} {shlex.join(overrides)}".rstrip() + "\n" + out.read_text())
    return out


def _overrides(text: str) -> list[str] | None:
    first = text.split("\n", 1)[0]
    return shlex.split(first.removeprefix(HEADER)) if first.startswith(HEADER) else None


def recorded_overrides(params: Path) -> list[str]:
    """The overrides ``params`` says it was composed with (none when it has no header, e.g.
    after ``dvc exp run`` recomposed it)."""
    return _overrides(Path(params).read_text()) or []


def _committed(root: Path) -> str | None:
    try:
        return subprocess.run(
            ["git", "show", "HEAD:params.yaml"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def params_match_conf(root: Path) -> bool:
    """Whether ``root/params.yaml`` is ``conf/`` composed with the overrides its header records.
    A file without the header was rewritten by ``dvc exp run`` (DVC composed ``conf/`` with the
    experiment's ``-S`` values, which it keeps in the experiment, not the file): then the file
    committed at HEAD is checked instead."""
    root = Path(root).resolve()
    text = (root / "params.yaml").read_text()
    if _overrides(text) is None:
        text = _committed(root) or text
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "conf").symlink_to(root / "conf")
        fresh = write_params(Path(tmp), _overrides(text) or []).read_text()
    return yaml.safe_load(fresh) == yaml.safe_load(text)


if __name__ == "__main__":
    print(write_params(Path.cwd(), sys.argv[1:]))
