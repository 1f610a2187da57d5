"""What MLflow's system metrics cost a stage, side by side: wall seconds of the train stage's
process on real MNIST with `runtime.system_metrics=true` (the default: MLflow's monitor thread
samples CPU, memory, disk and network into the run every 10 s) and `false`, alternated
A B, B A, ...
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/system_metrics.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    REPO_ROOT,
    alternate,
    data_overrides,
    parse_args,
    prepared,
    report_seconds,
)  # noqa: E402


def stage_seconds(root: Path, overrides: list[str], monitored: bool) -> float:
    """Wall seconds of one train-stage process, its run in a store under ``root``."""
    cmd = [
        sys.executable,
        str(REPO_ROOT / "pipeline" / "train.py"),
        *overrides,
        f"paths.root={root}",
        f"tracking.uri=sqlite:///{root}/mlflow.db",
        f"runtime.system_metrics={str(monitored).lower()}",
    ]
    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    return seconds


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    repeats = 1 if args.quick else 3
    images, epochs = (2_000, 1) if args.quick else (20_000, 3)
    data = data_overrides("mnist", prepared("mnist"), images)
    overrides = [*data, f"train.epochs={epochs}", "model=convnet"]
    with tempfile.TemporaryDirectory() as tmp:
        sides = {
            f"system metrics {'on' if on else 'off'}": partial(
                stage_seconds, Path(tmp) / str(on), overrides, on
            )
            for on in (True, False)
        }
        runs = alternate(sides, repeats)
    title = f"the train stage, {images} MNIST images x {epochs} epochs"
    report_seconds(title, runs, "system metrics off")


if __name__ == "__main__":
    main()
