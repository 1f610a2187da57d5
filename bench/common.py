"""Shared benchmark helpers: prepared data, composed configs, alternated A/B timing, peak RSS."""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import lightning as L
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir

from filterscope.data.acquire import prepare_dataset
from filterscope.data.prepared import read_meta, write_prepared
from filterscope.data.registry import get_spec
from filterscope.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("FILTERSCOPE_MIRROR", REPO_ROOT.parent / "shared" / "datasets"))
CACHE = Path(os.environ.get("FILTERSCOPE_BENCH_CACHE", "/tmp/filterscope-bench"))

# Config choice -> (dataset name, mirror folder, data.files overrides or None for the official).
SOURCES: dict[str, tuple[str, str, list[tuple[str, str]] | None]] = {
    "cifar10_subset": (
        "cifar10",
        "cifar10-subset",
        [("cifar-10-python-subset.tar.gz", "5368c7386bce7eb7594ca88804932787")],
    ),
    "mnist": ("mnist", "mnist", None),
}


def parse_args(
    description: str, more: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """The benchmarks' command line: ``--quick`` for small sizes, ``--threads`` to set torch's
    intra-op threads (default: torch's own choice, one per core), and what ``more`` adds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads")
    if more is not None:
        more(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def prepared(choice: str, root: Path = CACHE) -> Path:
    """The prepared folder of data config ``choice`` under ``root``, made from the mirror once."""
    name, folder, files = SOURCES[choice]
    out = root / "prepared" / choice
    try:
        read_meta(out)
    except DataError:
        prepare_dataset(name, str(MIRROR / folder), files, root / "raw", out, progress=False)
    return out


def synthetic(root: Path, name: str, train: int, test: int) -> Path:
    """A prepared folder ``root/<name>`` of random images of dataset ``name``'s shape (every
    label present)."""
    spec = get_spec(name)
    gen = torch.Generator().manual_seed(0)
    splits = {
        split: (
            torch.randint(0, 256, (n, *spec.image_shape), generator=gen, dtype=torch.uint8),
            torch.arange(n) % len(spec.classes),
        )
        for split, n in (("train", train), ("test", test))
    }
    out = root / name
    write_prepared(out, spec, splits, {})
    return out


def config(root: Path, *overrides: str) -> Any:
    """The project's Hydra config with ``overrides``, outputs and tracking under ``root``."""
    with initialize_config_dir(str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose(
            "config",
            [f"paths.root={root}", f"tracking.uri=sqlite:///{root}/mlflow.db", *overrides],
        )


def data_overrides(choice: str, prepared_dir: Path, images: int | None = None) -> list[str]:
    """Overrides that serve ``prepared_dir`` (already prepared), with no validation split and at
    most ``images`` training images (all when None)."""
    limit = "null" if images is None else str(images)
    return [
        f"data={choice}",
        f"paths.prepared={prepared_dir}",
        "data.val_fraction=0",
        f"data.train_limit={limit}",
        "runtime.progress=false",
    ]


@dataclass
class Timing:
    """One timed run: ``images`` processed in the ``seconds`` of its steady part, plus the
    ``startup`` before its first batch and its ``wall`` time overall."""

    seconds: float
    images: int
    startup: float = 0.0
    wall: float = 0.0

    @property
    def rate(self) -> float:
        return self.images / self.seconds

    @staticmethod
    def total(parts: Sequence[Timing], images: int) -> Timing:
        """Several runs that together process ``images`` once (e.g. one probe per run)."""
        return Timing(
            seconds=sum(p.seconds for p in parts),
            images=images,
            startup=sum(p.startup for p in parts),
            wall=sum(p.wall for p in parts),
        )


@dataclass
class StepClock:
    """Step timestamps of one run: the timing counts the steps after the first ``warmup``."""

    warmup: int
    start: float = field(default_factory=time.perf_counter)
    first_batch: float | None = None
    ends: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def batch_start(self) -> None:
        if self.first_batch is None:
            self.first_batch = time.perf_counter()

    def step_end(self, images: int) -> None:
        """A step that processed ``images`` images ended (0 for a finishing step)."""
        self.ends.append(time.perf_counter())
        self.sizes.append(images)

    def timing(self) -> Timing:
        """Timing of the steps after warm-up (from the first batch when ``warmup`` is 0)."""
        if len(self.ends) <= self.warmup or self.first_batch is None:
            raise ValueError(f"only {len(self.ends)} steps timed, warm-up is {self.warmup}")
        since = self.ends[self.warmup - 1] if self.warmup else self.first_batch
        return Timing(
            seconds=self.ends[-1] - since,
            images=sum(self.sizes[self.warmup :]),
            startup=self.first_batch - self.start,
            wall=time.perf_counter() - self.start,
        )


class ClockCallback(L.Callback):
    """Feeds a :class:`StepClock` from Lightning's train and test batch hooks."""

    def __init__(self, clock: StepClock) -> None:
        self.clock = clock

    def on_train_batch_start(self, *_: Any) -> None:
        self.clock.batch_start()

    def on_train_batch_end(self, _t: Any, _m: Any, _o: Any, batch: Any, _i: int) -> None:
        self.clock.step_end(len(batch[1]))

    def on_test_batch_start(self, *_: Any) -> None:
        self.clock.batch_start()

    def on_test_batch_end(self, _t: Any, _m: Any, _o: Any, batch: Any, _i: int, *_: Any) -> None:
        self.clock.step_end(len(batch[1]))


class Unmetered:
    """Mixin for a MeteredModule: the loss alone, no metric updated or logged (a side that shows
    what the epoch metrics cost)."""

    def score(self, stage: str, logits: Sequence[torch.Tensor], labels: torch.Tensor) -> Any:
        return sum(F.cross_entropy(head.float(), labels) for head in logits)


T = TypeVar("T")


def alternate(
    sides: dict[str, Callable[[], T]], repeats: int, discard: int = 1
) -> dict[str, list[T]]:
    """Run every side ``discard`` + ``repeats`` times, interleaved A B, B A, A B, ... so that drift
    in the machine's load hits all sides alike; the first ``discard`` rounds (the process's own
    warm-up: kernel selection, allocator growth) are dropped."""
    names = list(sides)
    results: dict[str, list[T]] = {name: [] for name in names}
    for rep in range(discard + repeats):
        for name in names if rep % 2 == 0 else reversed(names):
            timing = sides[name]()
            if rep >= discard:
                results[name].append(timing)
    return results


def median(runs: Sequence[Timing], key: str) -> float:
    """The median of attribute ``key`` (``rate``, ``wall``, ``startup``, ...) over ``runs``."""
    return statistics.median(getattr(t, key) for t in runs)


def machine() -> str:
    """One line naming the CPU, core count, torch version and threads, and the load average."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"torch threads {torch.get_num_threads()}, load average {load}"
    )


def report(title: str, results: dict[str, list[Timing]]) -> None:
    """Print the machine, then per side the median steady rate, every run's rate, and the median
    start-up and wall time."""
    print(f"\n== {title}\n   {machine()}")
    for name, runs in results.items():
        each = " ".join(f"{t.rate:.0f}" for t in runs)
        print(
            f"   {name:<26} {median(runs, 'rate'):9.1f} images/s  (runs: {each}; "
            f"{runs[0].images} images per run; median start-up {median(runs, 'startup'):.2f} s,"
            f" wall {median(runs, 'wall'):.2f} s)"
        )


def report_seconds(title: str, runs: dict[str, list[float]], baseline: str) -> None:
    """Print the day, the machine, then per side the median wall seconds, as a multiple of
    side ``baseline``'s, and every run."""
    base = statistics.median(runs[baseline])
    print(f"\n== {title}, {time.strftime('%Y-%m-%d')}: wall s, median of {len(runs[baseline])}")
    print(f"   {machine()}")
    for name, seconds in runs.items():
        med = statistics.median(seconds)
        each = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"   {name:<22} {med:6.2f} s  ({med / base:.2f}x {baseline})  runs: {each}")


def ratio(
    results: dict[str, list[Timing]],
    a: str,
    b: str,
    target: float | None = None,
    at_least: bool = True,
    wall: bool = False,
) -> float:
    """Print and return how many times faster side ``a`` is than side ``b`` (median steady rates,
    or median wall times with ``wall``), against ``target`` if given (a floor when ``at_least``,
    else a ceiling)."""
    if wall:
        value = median(results[b], "wall") / median(results[a], "wall")
    else:
        value = median(results[a], "rate") / median(results[b], "rate")
    verdict = ""
    if target is not None:
        met = value >= target if at_least else value <= target
        bound = ">=" if at_least else "<="
        verdict = f"  (target {bound} {target:g}x: {'met' if met else 'MISSED'})"
    what = "wall time" if wall else "steady rate"
    print(f"   {what}: {a} is {value:.2f}x as fast as {b}{verdict}")
    return value


def _measured(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, int]:
    result = fn(*args)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Run ``fn(*args)`` in a fresh (spawned) process; return its result and the process's peak
    resident set size in MiB. ``fn`` must be importable (module level)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        result, kib = pool.submit(_measured, fn, args).result()
    return result, kib / 1024
