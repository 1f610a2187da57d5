"""Stage scripts' entry point: Hydra config in, a result line or a one-line error out."""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig

from filterscope.config import refuse_bad_values
from filterscope.distributed import WorkerDone, refuse_relaunch
from filterscope.errors import ConfigError, FilterscopeError
from filterscope.hydra_errors import composition_error, refuse_added_keys
from filterscope.outputs import json_ready
from filterscope.tracking import job_run, sweep_tags
from filterscope.tracking.sweep import RESULT_FILE, finished_result, sweep_job_name

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def report_errors(run: Callable[[Any], Any], cfg: Any, exit_on_error: bool = True) -> Any:
    """Run a stage; a :class:`FilterscopeError` prints
    ``error: <message>`` and exits with 2, an interrupt (SIGINT, or SIGTERM, see
    :func:`hydra_entry`) prints ``interrupted: ...`` and exits with 130. In a sweep job
    (``exit_on_error`` false) the error is re-raised instead, so that this job fails and the
    others go on."""
    try:
        result = run(cfg)
    except WorkerDone:  # a DDP worker rank: rank zero reports
        return None
    except FilterscopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exit_on_error:
            sys.exit(EXIT_USER_ERROR)
        raise
    except KeyboardInterrupt as exc:
        print(f"interrupted: {exc or 'stopped before any epoch completed'}", file=sys.stderr)
        if exit_on_error:
            sys.exit(EXIT_INTERRUPTED)
        raise
    print(json.dumps(json_ready(result), sort_keys=True))
    return result


def freeze_imports() -> None:
    """Once per process, after the imports: what they built (torch, Lightning, MLflow: millions
    of objects, alive until exit) leaves the garbage collector's reach, so that neither its full
    collections nor the interpreter's last ones at exit walk it (about 2 s of CPU per stage
    process; BENCHMARKS.md, section 10). Objects made later are collected as usual."""
    if gc.get_freeze_count() == 0:
        gc.freeze()


def _sweep_job(run: Callable[[Any], Any], cfg: DictConfig, name: str, conf: Path) -> Any:
    """A multirun job: outputs under its own Hydra job dir, one MLflow run under the sweep's."""
    hydra_cfg = HydraConfig.get()
    cfg.paths.root = hydra_cfg.runtime.output_dir

    def job(cfg: DictConfig) -> Any:
        refuse_added_keys(cfg, conf)
        refuse_bad_values(cfg)
        refuse_relaunch(cfg.train, "a sweep job")
        return run(cfg)

    overrides = list(hydra_cfg.overrides.task)
    done = finished_result(cfg, overrides)
    if done is not None:
        print(f"[sweep] {' '.join(overrides)}: finished in run {done[0]}, skipped", file=sys.stderr)
        return objective(done[1], cfg.get("objective"))
    with job_run(cfg, name, sweep_tags(overrides), sweep_job_name(name, overrides)) as tracked:
        result = report_errors(job, cfg, exit_on_error=False)
        if result is not None:
            tracked.log_text(json.dumps(json_ready(result), sort_keys=True), RESULT_FILE)
    return objective(result, cfg.get("objective"))


def objective(result: Any, key: str | None) -> Any:
    """What a sweep job returns to Hydra's sweeper: ``result[key]`` as a float (an optimising
    sweeper's objective), or the whole ``result`` when ``key`` is null."""
    if key is None or result is None:
        return result
    if not isinstance(result, dict) or key not in result:
        found = sorted(result) if isinstance(result, dict) else type(result).__name__
        raise ConfigError(f"objective={key!r} is not in the stage's result (it has: {found})")
    return float(result[key])


def staged(stage: str) -> Callable[[Any], Any]:
    """``run(cfg)`` of the stage module ``stage`` (``filterscope.stages.train``), imported when
    first called, on ``runtime.threads`` torch threads. :func:`hydra_entry` checks the config's
    values first, so a bad value or an unknown key is refused before torch, torchvision and
    Lightning load (seconds)."""

    def run(cfg: Any) -> Any:
        stage_run = importlib.import_module(stage).run
        freeze_imports()  # also in a launcher's worker process (joblib, submitit)
        threads = cfg.runtime.threads
        if threads is not None:  # checked: an integer >= 1
            import torch

            torch.set_num_threads(threads)
        return stage_run(cfg)

    return run


def hydra_entry(stage: str, script: str, one_run: bool = False) -> None:
    """``@hydra.main`` over the repo's ``conf/`` (beside the ``pipeline/`` script) for the stage
    module ``stage`` (see :func:`staged`; ``tests/unit/test_dvc_deps.py`` counts it among the
    script's imports).

    ``one_run``: every stage ``run`` calls logs into a single MLflow run (the whole chain).
    In a multirun every job is one run, under the sweep's parent run.
    """
    run = staged(stage)
    conf = Path(script).resolve().parent.parent / "conf"
    name = Path(script).stem
    # SIGTERM (a scheduler's or `kill`'s) stops a stage the way Ctrl+C does: cleanly.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    @hydra.main(config_path=str(conf), config_name="config", version_base="1.3")
    def _main(cfg: DictConfig) -> Any:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            return _sweep_job(run, cfg, name, conf)
        try:
            refuse_added_keys(cfg, conf)
            refuse_bad_values(cfg)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)
        if one_run:
            with job_run(cfg, name, {}):
                return report_errors(run, cfg)
        return report_errors(run, cfg)

    # Hydra prints its own errors (several lines, exit 1) unless HYDRA_FULL_ERROR is set; with
    # it set, composition errors reach this function, which makes them the one-line error.
    full_error = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    args = sys.argv[1:]
    # Hydra names the job after the file that calls it, this one: the script's name instead, so
    # that a sweep's resume key and its parent run's name tell train.py's sweep from chain.py's.
    if not any(a.startswith("hydra.job.name=") for a in args):
        sys.argv = [sys.argv[0], *args, f"hydra.job.name={name}"]
    try:
        _main()
    except CompactHydraException as exc:
        if full_error:
            raise
        print(f"error: {composition_error(exc, conf, args)}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except Exception as exc:  # a failed sweep job (already reported) or a bug
        if full_error:
            raise
        lines = str(exc).strip().splitlines()
        print(f"error: {type(exc).__name__}: {lines[0] if lines else ''}", file=sys.stderr)
        print("(set HYDRA_FULL_ERROR=1 for the traceback)", file=sys.stderr)
        sys.exit(1)
