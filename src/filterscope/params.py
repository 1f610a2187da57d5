"""``params.yaml`` = ``conf/`` composed, exactly as DVC's Hydra composition writes it, with the
overrides it was composed with on its first line.

``python -m filterscope.params [overrides...]`` rewrites it (``make params``, ``make run``).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

HEADER = "# conf/ composed by `python -m filterscope.params` with overrides:"


def write_params(root: Path, overrides: Sequence[str] = ()) -> Path:
    """Compose ``root/conf/config.yaml`` with ``overrides`` into ``root/params.yaml``."""
    from dvc.utils.hydra import compose_and_dump

    root = Path(root).resolve()
    out = root / "params.yaml"
    compose_and_dump(out, str(root / "conf"), None, "config", str(root), list(overrides))
    out.write_text(f"{HEADER} {shlex.join(overrides)}".rstrip() + "\n" + out.read_text())
    return out


def recorded_overrides(params: Path) -> list[str]:
    """The overrides ``params`` says it was composed with (none when it has no header, e.g.
    after ``dvc exp run`` recomposed it)."""
    first = Path(params).read_text().split("\n", 1)[0]
    return shlex.split(first.removeprefix(HEADER)) if first.startswith(HEADER) else []


if __name__ == "__main__":
    print(write_params(Path.cwd(), sys.argv[1:]))
