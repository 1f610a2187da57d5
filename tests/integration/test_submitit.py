"""Sweeps through hydra-submitit-launcher: `hydra/launcher=local` for real, `slurm` composed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf.errors import InterpolationResolutionError

from tests.helpers.configs import CONF
from tests.helpers.sweeps import multirun, sweep_runs

pytestmark = pytest.mark.integration


def running_under(folder: Path) -> list[str]:
    """Command lines of live processes that name ``folder`` (submitit's controllers and jobs)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:  # the process has ended
            continue
        if any(str(folder) in arg for arg in args):
            found.append(" ".join(args))
    return found


def test_local_submitit_sweep(mnist_root: Path) -> None:
    proc = multirun(mnist_root, "train.py", "hydra/launcher=local", "train.lr=0.01,0.001")
    assert proc.returncode == 0, proc.stderr[-3000:]
    parent, children = sweep_runs(mnist_root, "train")
    assert parent.info.status == "FINISHED"
    assert "train.lr=0.01,0.001" in parent.data.tags["filterscope.sweep_overrides"]
    assert {c.data.params["train.lr"] for c in children} == {"0.01", "0.001"}
    job_dirs = {Path(c.data.tags["filterscope.output_dir"]) for c in children}
    (sweep_dir,) = {d.parent for d in job_dirs}
    assert len(job_dirs) == 2 and sweep_dir.parent == mnist_root / "multirun"
    for child in children:
        assert child.info.status == "FINISHED"
        lr = child.data.params["train.lr"]
        assert f"train.lr={lr}" in child.data.tags["filterscope.overrides"]
        job_dir = Path(child.data.tags["filterscope.output_dir"])
        assert (job_dir / "models/backbone/backbone.pt").is_file()
        assert (job_dir / "metrics/train.json").is_file()
    # submitit's own records: one folder per job, with its stdout/stderr logs and result pickle
    logs = sorted((sweep_dir / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2 and all(log.with_name(log.name[:-3] + "err").is_file() for log in logs)
    assert len(list((sweep_dir / ".submitit").glob("*/*_result.pkl"))) == 2
    assert not running_under(sweep_dir)


def slurm_launcher(*overrides: str) -> Any:
    """The plugin's SlurmLauncher as `-m hydra/launcher=slurm ...` builds it (no SLURM needed)."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", ["hydra/launcher=slurm", *overrides], return_hydra_config=True)
    return instantiate(cfg.hydra.launcher)


def test_slurm_launcher_follows_the_training_config() -> None:
    launcher = slurm_launcher(
        "hydra.launcher.partition=gpu", "train.devices=4", "train.num_nodes=2"
    )
    params = launcher.params  # what the plugin hands to submitit's SLURM executor
    assert type(launcher).__name__ == "SlurmLauncher"
    assert params["partition"] == "gpu"
    assert params["gpus_per_node"] == params["tasks_per_node"] == 4  # one task per GPU
    assert params["nodes"] == 2
    assert params["timeout_min"] > 0 and params["cpus_per_task"] and params["mem_gb"]


def test_slurm_launcher_needs_a_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SBATCH_PARTITION", "a100")
    assert slurm_launcher().params["partition"] == "a100"
    assert slurm_launcher("hydra.launcher.partition=null").params["partition"] is None
    monkeypatch.delenv("SBATCH_PARTITION")
    with pytest.raises(InterpolationResolutionError, match="SBATCH_PARTITION"):
        slurm_launcher()
