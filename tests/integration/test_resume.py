"""Interrupting a real stage process: a clean exit, a KILLED run, and an exact resume."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from filterscope.cli import EXIT_INTERRUPTED
from tests.helpers.pipeline_copy import tool_env

pytestmark = pytest.mark.integration
PIPELINE = Path(__file__).resolve().parents[2] / "pipeline"
EPOCHS = 4


def stage(script: str, root: Path, mnist_root: Path) -> list[str]:
    return [
        sys.executable,
        str(PIPELINE / script),
        "experiment=mnist_convnet",
        "data.train_limit=4000",
        "data.test_limit=1000",
        f"train.epochs={EPOCHS}",
        "runtime.progress=false",
        "probe.epochs=3",
        f"paths.root={root}",
        f"paths.data={mnist_root}",
        f"tracking.uri=sqlite:///{root}/mlflow.db",
    ]


def run_to_end(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, env=tool_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def interrupt_after_first_epoch(cmd: list[str], root: Path, sig: int) -> str:
    """Start ``cmd``, signal it once an epoch checkpoint exists, return its stderr."""
    # A shell starts background jobs with SIGINT ignored, and Python then keeps it ignored: give
    # the stage Ctrl+C's default whatever way the tests were started.
    restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    proc = subprocess.Popen(
        cmd, env=tool_env(), stderr=subprocess.PIPE, text=True, preexec_fn=restore
    )
    deadline = time.monotonic() + 300
    while not list(root.glob(".resume/*/last.ckpt")):
        assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else ""
        assert time.monotonic() < deadline, "no epoch checkpoint appeared"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == (-sig if sig == signal.SIGKILL else EXIT_INTERRUPTED), err[-3000:]
    return err


def history(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def untimed(path: Path) -> dict[str, object]:
    return {k: v for k, v in json.loads(path.read_text()).items() if "seconds" not in k}


def stage_runs(root: Path, stage_name: str) -> list:
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    return client.search_runs(["1"], f"tags.`filterscope.stage` = '{stage_name}'")


def only_run(root: Path, stage_name: str, status: str) -> object:
    (run,) = [r for r in stage_runs(root, stage_name) if r.info.status == status]
    return run


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    """The uninterrupted runs every case is compared with: train, then probe, run to the end
    once (shared: each is deterministic on CPU)."""
    root = tmp_path_factory.mktemp("reference")
    for script in ("train.py", "probe.py"):
        run_to_end(stage(script, root, mnist_root))
    return root


@pytest.mark.parametrize(
    ("sig", "script"),
    [(signal.SIGTERM, "train.py"), (signal.SIGINT, "probe.py"), (signal.SIGKILL, "train.py")],
    ids=["SIGTERM-train", "SIGINT-probe", "SIGKILL-train"],
)
def test_interrupted_stage_resumes_to_the_same_result(
    tmp_path: Path, mnist_root: Path, reference: Path, sig: int, script: str
) -> None:
    name = script.removesuffix(".py")
    interrupted = tmp_path / "interrupted"
    if name == "probe":  # both probe the same trained backbone
        (interrupted / "models").mkdir(parents=True)
        subprocess.run(
            ["cp", "-r", reference / "models/backbone", interrupted / "models"], check=True
        )

    err = interrupt_after_first_epoch(stage(script, interrupted, mnist_root), interrupted, sig)
    if sig == signal.SIGKILL:  # no chance to clean up: the run is left RUNNING ...
        only_run(interrupted, name, "RUNNING")
    else:
        assert f"interrupted: {name} interrupted after" in err and "run it again to resume" in err
        assert only_run(interrupted, name, "KILLED").info.end_time is not None
    assert not (interrupted / f"metrics/{name}.json").exists()  # nothing half-done published

    run_to_end(stage(script, interrupted, mnist_root))  # the same command resumes
    resumed = only_run(interrupted, name, "FINISHED")
    assert resumed.data.tags["filterscope.resumed_from"].endswith("last.ckpt")
    killed = only_run(interrupted, name, "KILLED")  # ... until the rerun ends it
    assert killed.info.end_time is not None
    assert killed.data.tags["filterscope.resumed_by"] == resumed.info.run_id
    assert resumed.data.tags["filterscope.resumes"] == killed.info.run_id
    assert len(stage_runs(interrupted, name)) == 2
    assert untimed(interrupted / f"metrics/{name}.json") == untimed(
        reference / f"metrics/{name}.json"
    )  # bit-identical on CPU
    assert history(interrupted / f"plots/{name}_history.csv") == history(
        reference / f"plots/{name}_history.csv"
    )
    assert not list(interrupted.glob(".resume/*"))  # the resume state is gone once done


WRITER = """
import sys, torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
io, path = TorchCheckpointIO(), sys.argv[1]
for epoch in range(1, 10**6):
    io.save_checkpoint({"epoch": epoch, "w": torch.full((4_000_000,), float(epoch))}, path)
    print(epoch, flush=True)
"""


def test_a_checkpoint_write_killed_midway_leaves_the_last_one_whole(tmp_path: Path) -> None:
    """The epoch checkpoint is written as the Trainer writes it (its strategies' default
    ``TorchCheckpointIO``): killed at any moment, the file on disk is one whole checkpoint."""
    path = tmp_path / "last.ckpt"
    for delay in (0.0, 0.02, 0.05, 0.11):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip()  # one save done
        time.sleep(delay)
        proc.kill()
        proc.wait()
        saved = torch.load(path, weights_only=True)
        assert bool((saved["w"] == float(saved["epoch"])).all()), delay
