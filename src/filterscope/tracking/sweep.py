"""Hydra multirun sweeps as MLflow parent runs: every job's run hangs under its sweep's run.

A sweep started again (the same script, sweep overrides and base config) resumes: it reopens the
earlier parent run, and each job that already FINISHED under it returns its recorded result
instead of running again; failed and missing jobs run."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from filterscope.tracking.names import job_name, sweep_name, swept_keys
from filterscope.tracking.run import start_run
from filterscope.tracking.store import store_client
from filterscope.tracking.ui import link_comparison, ui_address

SWEEP_ENV = "FILTERSCOPE_SWEEP_RUN_ID"
# The swept keys (a JSON list), by which the jobs name their runs.
SWEPT_ENV = "FILTERSCOPE_SWEPT_KEYS"
KEY_TAG = "filterscope.sweep_key"
RESULT_FILE = "result.json"


def sweep_key(script: str, overrides: str, base: DictConfig, sweeper: DictConfig) -> str:
    """What makes two sweeps the same one: the script, the sweep's overrides, the resolved base
    config (without ``hydra``) and the sweeper's settings (an Optuna search's seed and trials);
    a change to any of them starts a new sweep. The launcher is not part of it."""
    config = [OmegaConf.to_container(c, resolve=True) for c in (base, sweeper)]
    text = json.dumps([script, overrides, *config], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _earlier_sweep(client: Any, experiment_id: str, key: str) -> str | None:
    """The newest sweep parent run with ``key``, if any."""
    found = client.search_runs(
        [experiment_id],
        f"tags.`filterscope.stage` = 'sweep' and tags.`{KEY_TAG}` = '{key}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return found[0].info.run_id if found else None


def finished_result(cfg: DictConfig, overrides: list[str]) -> tuple[str, Any] | None:
    """(run id, recorded result) of the job with these ``overrides`` that already FINISHED
    under the running sweep's parent run; None when it has to run."""
    parent = os.environ.get(SWEEP_ENV)
    if not parent:
        return None
    client, _, experiment_id = store_client(cfg)
    done = client.search_runs(
        [experiment_id],
        f"tags.`mlflow.parentRunId` = '{parent}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    wanted = " ".join(overrides)
    for run in done:
        if run.data.tags.get("filterscope.overrides") == wanted:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    path = client.download_artifacts(run.info.run_id, RESULT_FILE, tmp)
                except Exception:  # noqa: BLE001 - no recorded result: run the job again
                    return None
                return run.info.run_id, json.loads(Path(path).read_text())
    return None


def sweep_job_name(stage: str, overrides: list[str]) -> str:
    """A sweep job's run name: ``stage`` and its values of the running sweep's swept keys."""
    return job_name(stage, overrides, json.loads(os.environ.get(SWEPT_ENV, "[]")))


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
    their workers. ``resume`` false always opens a new parent run.
    """

    def __init__(self, resume: bool = True) -> None:
        self._run: tuple[str, str] | None = None  # (tracking URI, run id)
        self._resume = resume

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # A launcher setting that cannot resolve (a SLURM partition unset) fails the sweep here,
        # before its parent run opens.
        OmegaConf.to_container(config.hydra.launcher, resolve=True)
        overrides = " ".join(config.hydra.overrides.task)
        cfg = config.copy()
        with open_dict(cfg):
            del cfg["hydra"]
        script = str(config.hydra.job.name)
        key = sweep_key(script, overrides, cfg, config.hydra.sweeper)
        swept = swept_keys(config.hydra.overrides.task, config.hydra.sweeper.get("params"))
        client, uri, experiment_id = store_client(cfg)
        earlier = _earlier_sweep(client, experiment_id, key) if self._resume else None
        if earlier is not None:
            client.update_run(earlier, status="RUNNING")
            print(f"[sweep] resuming sweep {earlier}: finished jobs are skipped", file=sys.stderr)
            self._run = (uri, earlier)
        else:
            tags = {"filterscope.sweep_overrides": overrides, KEY_TAG: key}
            name = sweep_name(script, swept, str(cfg.data.name), str(cfg.model.name))
            tracked = start_run(cfg, "sweep", None, tags, log_config=False, name=name)
            self._run = (tracked.uri, tracked.run_id)
        os.environ[SWEEP_ENV] = self._run[1]
        os.environ[SWEPT_ENV] = json.dumps(swept)
        atexit.register(self._close, "FAILED")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        atexit.unregister(self._close)
        if self._run is not None:
            uri, run_id = self._run
            try:  # a link the UI shows; the sweep's results stand without it
                link_comparison(uri, ui_address(uri, config.compare.get("ui")), run_id)
            except Exception as exc:  # noqa: BLE001 - any store failure is reported the same way
                print(f"[sweep] no comparison link on {run_id}: {exc}", file=sys.stderr)
        self._close("FINISHED")

    def _close(self, status: str) -> None:
        from mlflow.tracking import MlflowClient

        if self._run is not None:
            uri, run_id = self._run
            MlflowClient(uri).set_terminated(run_id, status)
            self._run = None
        os.environ.pop(SWEEP_ENV, None)
        os.environ.pop(SWEPT_ENV, None)
