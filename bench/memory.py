"""Peak memory (RSS) of every pipeline stage on the default profile, on the CIFAR-10 subset.

Each stage's library function runs in its own freshly spawned process on a throwaway project
root (download from the mirror, then train, probe, extract, report and prune, each reading
what the stages before it wrote), and that process reports its peak resident set size. A
process that only imports the stages gives the floor (Python, torch, Lightning, MLflow).
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

if __package__ in (None, ""):  # run as `python bench/memory.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import MIRROR, config, machine, parse_args, peak_rss  # noqa: E402

STAGES = ("download", "train", "probe", "extract", "report", "prune")


def memory_config(root: Path, quick: bool) -> Any:
    """The default profile on the mirror's CIFAR-10 subset (one epoch each with ``quick``)."""
    short = ["train.epochs=1", "probe.epochs=1", "prune.epochs=1"] if quick else []
    return config(
        root,
        "data=cifar10_subset",
        f"data.source={MIRROR / 'cifar10-subset'}",
        "runtime.progress=false",
        *short,
    )


def run_stage(stage: str, cfg: Any, threads: int | None) -> float:
    """Run one stage's library function (with ``threads`` torch threads if given); return its
    wall seconds."""
    if threads:
        torch.set_num_threads(threads)
    module = importlib.import_module(f"filterscope.stages.{stage}")
    start = time.perf_counter()
    module.run(cfg)
    return time.perf_counter() - start


def import_stages() -> float:
    """Import every stage (the floor every stage process starts from); takes no time to run."""
    for stage in STAGES:
        importlib.import_module(f"filterscope.stages.{stage}")
    return 0.0


def measure(cfg: Any, threads: int | None) -> dict[str, tuple[float, float]]:
    """``{name: (seconds, peak RSS MiB)}`` for the import floor and then every stage in order."""
    rows = {"(imports only)": peak_rss(import_stages)}
    for stage in STAGES:
        rows[stage] = peak_rss(run_stage, stage, cfg, threads)
    return rows


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        cfg = memory_config(Path(tmp), args.quick)
        rows = measure(cfg, args.threads)
    epochs = (
        f"train {cfg.train.epochs} epochs, probe {cfg.probe.epochs} epochs,"
        f" prune {len(cfg.prune.methods)} arms x {cfg.prune.epochs} epochs"
    )
    print(f"\n== peak RSS per stage: default profile, CIFAR-10 subset ({epochs})\n   {machine()}")
    for name, (seconds, mib) in rows.items():
        print(f"   {name:<16} {mib:8.0f} MiB peak RSS   {seconds:7.1f} s")


if __name__ == "__main__":
    main()
