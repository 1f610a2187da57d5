"""Hydra multirun sweeps as MLflow parent runs: every job's run hangs under its sweep's run."""

from __future__ import annotations

import atexit
import os
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from filterscope.tracking.run import start_run

SWEEP_ENV = "FILTERSCOPE_SWEEP_RUN_ID"


def sweep_tags(overrides: list[str]) -> dict[str, str]:
    """Tags that put a job's run under the running sweep's parent run (none outside a sweep)."""
    tags = {"filterscope.overrides": " ".join(overrides)}
    parent = os.environ.get(SWEEP_ENV)
    if parent:
        tags.update({"mlflow.parentRunId": parent, "filterscope.sweep_id": parent})
    return tags


class SweepRun(Callback):
    """Opens the sweep's parent run before the jobs start and closes it when they are done:
    FINISHED, or FAILED when the sweep ends in an error (Hydra then skips ``on_multirun_end``;
    an exit handler closes the run instead).

    Jobs find it through ``$FILTERSCOPE_SWEEP_RUN_ID``, which launcher workers (joblib, submitit)
    inherit from the launching process. Holds only picklable state: launchers ship callbacks to
    their workers.
    """

    def __init__(self) -> None:
        self._run: tuple[str, str] | None = None  # (tracking URI, run id)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # A launcher setting that cannot resolve (a SLURM partition unset) fails the sweep here,
        # before its parent run opens.
        OmegaConf.to_container(config.hydra.launcher, resolve=True)
        overrides = " ".join(config.hydra.overrides.task)
        cfg = config.copy()
        with open_dict(cfg):
            del cfg["hydra"]
        tags = {"filterscope.sweep_overrides": overrides}
        tracked = start_run(cfg, "sweep", None, tags, log_config=False)
        self._run = (tracked.uri, tracked.run_id)
        os.environ[SWEEP_ENV] = tracked.run_id
        atexit.register(self._close, "FAILED")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        atexit.unregister(self._close)
        self._close("FINISHED")

    def _close(self, status: str) -> None:
        from mlflow.tracking import MlflowClient

        if self._run is not None:
            uri, run_id = self._run
            MlflowClient(uri).set_terminated(run_id, status)
            self._run = None
        os.environ.pop(SWEEP_ENV, None)
