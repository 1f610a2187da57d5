"""A stage process's fixed cost, its imports and its exit, with and without `freeze_imports`
(filterscope/cli.py), side by side: CPU seconds of a process that imports a stage script's
modules and exits, alternated A B, B A, ...

What the imports build (torch, Lightning, MLflow) is walked by the interpreter's last garbage
collections at exit unless it has been frozen; the stage scripts freeze it once the stage module
is imported (`filterscope.cli.staged`).
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/stage_exit.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO_ROOT, alternate, machine, parse_args  # noqa: E402

STAGES = ("download", "train", "report")
FREEZE = "from filterscope.cli import freeze_imports; freeze_imports()"


def code(stage: str, frozen: bool) -> str:
    """What a process runs: the stage script's imports, then (``frozen``) the freeze."""
    imports = f"import filterscope.cli, filterscope.stages.{stage}"
    return f"{imports}; {FREEZE}" if frozen else imports


def cpu_seconds(source: str) -> float:
    """User + system CPU seconds of ``python -c source``, to its exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", source], check=True, cwd=REPO_ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compare(stage: str, repeats: int) -> dict[str, list[float]]:
    """CPU seconds of each side, "plain" and "frozen", ``repeats`` runs each, interleaved."""
    sides = {
        side: partial(cpu_seconds, code(stage, side == "frozen")) for side in ("plain", "frozen")
    }
    return alternate(sides, repeats, discard=0)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    repeats = 2 if args.quick else 6
    print(f"\n== stage process imports + exit, {time.strftime('%Y-%m-%d')}: CPU s (median)")
    print(f"   {machine()}")
    for stage in STAGES:
        runs = compare(stage, repeats)
        plain, frozen = (statistics.median(runs[side]) for side in ("plain", "frozen"))
        spread = " | ".join(
            f"{side} " + " ".join(f"{s:.2f}" for s in seconds) for side, seconds in runs.items()
        )
        print(
            f"   {stage:<9} plain {plain:5.2f}  frozen {frozen:5.2f}  saved {plain - frozen:5.2f}"
            f"  ({frozen / plain:.2f}x)   [{spread}]"
        )


if __name__ == "__main__":
    main()
