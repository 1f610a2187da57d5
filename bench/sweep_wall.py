"""Sweep wall time: `make sweep`'s way (Hydra's joblib launcher, two jobs at a time, one torch
thread each) against the same jobs one after another (Hydra's basic launcher, torch's default
threads), as whole commands, side by side.

The jobs are a slice of the MNIST study (the tutorial ConvNet, two learning rates x two seeds)
at a reduced size, so both sides fit in a few minutes; each side trains every job in full and
logs it to its own SQLite store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/sweep_wall.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO_ROOT, machine, parse_args, prepared  # noqa: E402

PARALLEL, SEQUENTIAL = "make sweep's way: joblib, 2 jobs x 1 thread", "one after another"
SWEPT = ["train.lr=0.01,0.001", "seed=0,1"]


def command(root: Path, data: Path, parallel: bool, quick: bool) -> list[str]:
    """The multirun of the slice, into ``root``, on the prepared MNIST in ``data``."""
    size = ["data.train_limit=1200", "train.epochs=1"] if quick else ["data.train_limit=20000"]
    launcher = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"] if parallel else []
    return [
        sys.executable, str(REPO_ROOT / "pipeline/train.py"), "-m", "experiment=mnist_convnet",
        f"paths.prepared={data}", f"tracking.uri=sqlite:///{root}/mlflow.db",
        f"hydra.sweep.dir={root}/multirun", "runtime.progress=false", *size, *launcher, *SWEPT,
    ]  # fmt: skip


def wall(cmd: list[str], threads: str | None) -> float:
    """Seconds the whole command takes (``threads``: its OMP_NUM_THREADS, None for torch's own
    choice)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO_ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    data = prepared("mnist")
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, parallel, threads in ((PARALLEL, True, "1"), (SEQUENTIAL, False, None)):
            root = Path(tmp) / ("parallel" if parallel else "sequential")
            times[name] = wall(command(root, data, parallel, args.quick), threads)
    print(f"\n== sweep wall time, {time.strftime('%Y-%m-%d')}: 4 MNIST ConvNet training jobs")
    print(f"   {machine()}")
    for name, seconds in times.items():
        print(f"   {name:<46} {seconds:7.1f} s")
    print(f"   {PARALLEL} takes {times[PARALLEL] / times[SEQUENTIAL]:.2f}x the sequential time")


if __name__ == "__main__":
    main()
