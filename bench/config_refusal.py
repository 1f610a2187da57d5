"""How long a stage script takes to refuse a bad config, beside `python -c "import torch"`:
wall seconds of each process, alternated A B, B A, ...

A bad value (train.lr=-1, model.dropout=2, ...) or an unknown key is refused by the config's
value checks, Hydra's composition and the check of keys added with ``+``, before the stage
module (and with it torch, torchvision and Lightning) is imported (filterscope.cli.staged).
"""

from __future__ import annotations

import subprocess
import sys
import time
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/config_refusal.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO_ROOT, alternate, parse_args, report_seconds  # noqa: E402

BAD = {
    "train.lr=-1": ["data=mnist", "train.lr=-1"],
    "model.dropout=2": ["data=mnist", "model.dropout=2"],
    "trian.lr=0.1 (typo)": ["data=mnist", "trian.lr=0.1"],
    "data=mnst (typo)": ["data=mnst"],
    "+train.lrr=0.1 (added typo)": ["data=mnist", "+train.lrr=0.1"],
    "model.kernel_size=abc": ["data=mnist", "model.kernel_size=abc"],
    "model.depth=17": ["data=mnist", "model.depth=17"],
}


def wall(cmd: list[str], expect: int) -> float:
    """Wall seconds of ``cmd`` in the repository, which must exit with ``expect``."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert proc.returncode == expect, proc.stderr[-2000:]
    return seconds


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    repeats = 2 if args.quick else 5
    script = str(REPO_ROOT / "pipeline" / "train.py")
    sides = {"import torch": partial(wall, [sys.executable, "-c", "import torch"], 0)}
    for name, overrides in BAD.items():
        sides[name] = partial(wall, [sys.executable, script, *overrides], 2)
    report_seconds("a bad config refused", alternate(sides, repeats), "import torch")


if __name__ == "__main__":
    main()
