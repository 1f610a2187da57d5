"""``params.yaml`` = ``conf/`` composed, exactly as DVC's Hydra composition writes it.

``python -m filterscope.params [overrides...]`` rewrites it (``make params``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


def write_params(root: Path, overrides: Sequence[str] = ()) -> Path:
    """Compose ``root/conf/config.yaml`` with ``overrides`` into ``root/params.yaml``."""
    from dvc.utils.hydra import compose_and_dump

    root = Path(root).resolve()
    out = root / "params.yaml"
    compose_and_dump(out, str(root / "conf"), None, "config", str(root), list(overrides))
    return out


if __name__ == "__main__":
    print(write_params(Path.cwd(), sys.argv[1:]))
