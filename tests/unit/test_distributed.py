"""Which process is rank zero, and where multi-process training is refused."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from filterscope.distributed import launched_as_rank_zero, processes, refuse_relaunch
from filterscope.errors import ConfigError

LAUNCH_VARS = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "SLURM_NTASKS")


@pytest.mark.parametrize(
    ("env", "zero"),
    [
        ({}, True),  # no launcher
        ({"LOCAL_RANK": "0", "NODE_RANK": "0"}, True),  # Lightning's launching process
        ({"LOCAL_RANK": "1", "NODE_RANK": "0"}, False),  # a worker it started
        ({"NODE_RANK": "1"}, False),  # the script started by hand on a second node
        ({"LOCAL_RANK": "0", "NODE_RANK": "1"}, False),
        ({"RANK": "0", "LOCAL_RANK": "0"}, True),  # torchrun
        ({"RANK": "3", "LOCAL_RANK": "0"}, False),
        ({"SLURM_PROCID": "0"}, True),
        ({"SLURM_PROCID": "2"}, False),
    ],
)
def test_rank_zero_from_the_launchers_variables(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], zero: bool
) -> None:
    for key in LAUNCH_VARS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert launched_as_rank_zero() is zero


@pytest.mark.parametrize(
    ("devices", "nodes", "count"), [(1, 1, 1), (2, 1, 2), (4, 2, 8), ("auto", 1, 1), ([0, 3], 2, 4)]
)
def test_processes(devices: object, nodes: int, count: int) -> None:
    assert processes(OmegaConf.create({"devices": devices, "num_nodes": nodes})) == count


def test_several_processes_are_refused_where_the_launcher_would_rerun_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    one = OmegaConf.create({"devices": 1, "num_nodes": 1})
    two = OmegaConf.create({"devices": 2, "num_nodes": 1})
    refuse_relaunch(one, "a sweep job")
    with pytest.raises(ConfigError, match="2 processes cannot run in a sweep job"):
        refuse_relaunch(two, "a sweep job")
    monkeypatch.setenv("SLURM_NTASKS", "2")  # SLURM starts every process itself
    refuse_relaunch(two, "a sweep job")
