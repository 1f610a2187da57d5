"""Where the test suite's CPU goes: every Python process the tests start (stage scripts, `dvc`,
`mlflow server`, launcher jobs) records its own CPU seconds at exit, with the test that was
running when it started; the totals per test and per script are printed, largest first.

    python bench/suite_cpu.py                 # the Makefile's `make test` selection
    python bench/suite_cpu.py -- -m fast -n 1 # any pytest arguments after --

Processes killed by a signal (the resume tests' SIGKILL) record nothing; the pytest workers'
own in-process tests are counted under "(pytest worker)".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/suite_cpu.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO_ROOT, machine  # noqa: E402

LOG_VAR = "FILTERSCOPE_CPU_LOG"
DEFAULT_ARGS = ("-m", "not slow", "-n", "2", "--dist", "loadfile", "-q")
RECORDER = f'''
import atexit, json, os, resource, sys

def _record():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    entry = {{
        "argv": sys.argv[:3],
        "test": os.environ.get("PYTEST_CURRENT_TEST", ""),
        "worker": os.environ.get("PYTEST_XDIST_WORKER", ""),
        "cpu": usage.ru_utime + usage.ru_stime,
    }}
    with open(os.environ["{LOG_VAR}"], "a") as log:
        log.write(json.dumps(entry) + "\\n")

if os.environ.get("{LOG_VAR}"):
    atexit.register(_record)
'''
"""The ``sitecustomize`` module every Python process of the run imports at start-up."""


def recorder_env(folder: Path, log: Path) -> dict[str, str]:
    """The environment that makes each Python process append its CPU record to ``log``: the
    recorder as ``folder/sitecustomize.py``, first on ``PYTHONPATH``."""
    (folder / "sitecustomize.py").write_text(RECORDER)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    env[LOG_VAR] = str(log)
    return env


def script(argv: Sequence[str]) -> str:
    """A short name of what a process ran: the script, or ``dvc <command>``."""
    name = Path(argv[0]).name if argv else "?"
    return f"dvc {argv[1]}" if name == "dvc" and len(argv) > 1 else name


def summarise(records: Iterable[Mapping[str, object]]) -> dict[str, dict[str, list[float]]]:
    """CPU seconds and process counts per test (its node id without parameters; the pytest
    workers' own time as "(pytest worker)") and per script, as ``{"test": {name: [cpu,
    count]}, "script": {...}}``."""
    out: dict[str, dict[str, list[float]]] = {
        "test": defaultdict(lambda: [0.0, 0]),
        "script": defaultdict(lambda: [0.0, 0]),
    }
    for r in records:
        test = str(r["test"]).split(" (")[0].split("[")[0]
        if not test:
            test = "(pytest worker)" if r["worker"] else "(outside a test)"
        for kind, key in (("test", test), ("script", script(list(r["argv"])))):
            out[kind][key][0] += float(r["cpu"])
            out[kind][key][1] += 1
    return {kind: dict(totals) for kind, totals in out.items()}


def table(totals: Mapping[str, Sequence[float]], top: int) -> str:
    """The ``top`` largest totals as aligned lines: CPU seconds, processes, name."""
    rows = sorted(totals.items(), key=lambda item: -item[1][0])[:top]
    return "\n".join(f"{cpu:8.1f} s {int(n):4d} proc  {name}" for name, (cpu, n) in rows)


def main(pytest_args: Sequence[str]) -> int:
    print(f"machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "cpu.jsonl"
        env = recorder_env(Path(tmp), log)
        start = time.monotonic()
        before = os.times()
        code = subprocess.run(
            [sys.executable, "-m", "pytest", *pytest_args], cwd=REPO_ROOT, env=env
        ).returncode
        after = os.times()
        wall = time.monotonic() - start
        records = [json.loads(line) for line in log.read_text().splitlines()]
    children = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    totals = summarise(records)
    logged = sum(cpu for cpu, _ in totals["script"].values())
    print(
        f"\npytest exit {code}; {wall:.1f} s wall; CPU of every child process {children:.1f} s,"
        f" of those that recorded it {logged:.1f} s in {len(records)} processes"
    )
    print("\nper test (processes started while it ran, its fixtures included):")
    print(table(totals["test"], 30))
    print("\nper script:")
    print(table(totals["script"], 20))
    return code


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[1:] if args[:1] == ["--"] else (args or list(DEFAULT_ARGS))))
