"""Multi-process training (Lightning DDP): which process is rank zero, and what only it does.

Under ``train.strategy=ddp`` Lightning runs the stage script once per device: the worker ranks
(> 0) rebuild the data and model, share the fit and the test, and stop there. Rank zero alone
logs to MLflow and writes the stage's outputs, so a DDP run is one run with one set of outputs.
"""

from __future__ import annotations

import os
from typing import Any

from filterscope.errors import ConfigError


class WorkerDone(BaseException):
    """Raised on a worker rank once the collective fit and test are over: it has no more to do.
    (A BaseException, so that no ``except Exception`` on the way mistakes it for a failure.)"""


def launched_as_rank_zero() -> bool:
    """Whether this process is global rank zero, read from the variables its launcher set
    (torchrun: ``RANK``; Lightning's script launcher: ``NODE_RANK``/``LOCAL_RANK``; SLURM:
    ``SLURM_PROCID``). A process no launcher started is rank zero."""
    env = os.environ
    if "RANK" in env:
        return int(env["RANK"]) == 0
    if "LOCAL_RANK" in env or "NODE_RANK" in env:
        return int(env.get("LOCAL_RANK", "0")) == 0 and int(env.get("NODE_RANK", "0")) == 0
    return int(env.get("SLURM_PROCID", "0")) == 0


def processes(device_cfg: Any) -> int:
    """The number of training processes ``device_cfg`` asks for (devices x nodes); ``auto`` or
    a device list count as what they name at least."""
    devices = device_cfg.devices
    per_node = devices if isinstance(devices, int) else len(devices) if devices != "auto" else 1
    return int(per_node) * int(device_cfg.num_nodes)


def refuse_relaunch(device_cfg: Any, where: str) -> None:
    """Lightning's DDP launcher starts workers by rerunning the script's command line, which only
    works for a single-stage run: in ``where`` (a sweep job, the whole chain) the workers would
    rerun the sweep or the earlier stages. SLURM starts the workers itself, so it is allowed."""
    if processes(device_cfg) > 1 and "SLURM_NTASKS" not in os.environ:
        raise ConfigError(
            f"train.devices x train.num_nodes = {processes(device_cfg)} processes cannot run in"
            f" {where}: run the stages one by one (dvc repro) for multi-device training, or"
            " sweep on SLURM (hydra/launcher=slurm), where every device is a SLURM task"
        )
