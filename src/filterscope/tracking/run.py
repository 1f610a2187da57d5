"""MLflow runs: one per pipeline stage (tied to the other stages of its pipeline), or one per
job when a sweep point or a whole-chain run groups its stages; never left RUNNING."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from omegaconf import DictConfig, OmegaConf

from filterscope.distributed import launched_as_rank_zero
from filterscope.tracking.ledger import StageRun
from filterscope.tracking.lineage import Upstream
from filterscope.tracking.params import hyperparameters
from filterscope.tracking.provenance import run_tags
from filterscope.tracking.store import TrackingError, store_client

PIPELINE_ENV = "FILTERSCOPE_PIPELINE_ID"


def _producer(client: Any, experiment_id: str, upstream: Upstream | None) -> Any | None:
    """The newest run that wrote exactly ``upstream``'s content, if the store has one."""
    query = upstream.search_filter() if upstream is not None else None
    if query is None:
        return None
    runs = client.search_runs(
        [experiment_id], query, order_by=["attributes.start_time DESC"], max_results=1
    )
    return runs[0] if runs else None


def start_run(
    cfg: DictConfig,
    stage: str,
    upstream: Upstream | None,
    extra_tags: Mapping[str, str],
    log_config: bool = True,
    name: str | None = None,
) -> StageRun:
    """Create a RUNNING run named ``name`` (else by :func:`~filterscope.tracking.names.
    stage_name`) with tags, the hyper-parameters as params and the resolved config as
    ``config.yaml``, tied to the run that wrote its input ``upstream`` (found by the input's
    content hash)."""
    from mlflow.entities import Param, RunTag
    from mlflow.tracking.context.registry import resolve_tags

    client, uri, experiment_id = store_client(cfg)
    parent = _producer(client, experiment_id, upstream)
    run_id = client.create_run(experiment_id).info.run_id
    inherited = parent.data.tags.get("filterscope.pipeline_id") if parent else None
    pipeline_id = os.environ.get(PIPELINE_ENV) or inherited or run_id
    if upstream is not None and upstream.hash is not None:
        extra_tags = {**extra_tags, "filterscope.input_hash": upstream.hash}
    if parent is not None:
        extra_tags = {**extra_tags, "filterscope.upstream_run_id": parent.info.run_id}
    # Nested under the pipeline's first run when the pipeline id is that run's id (not a name
    # from $FILTERSCOPE_PIPELINE_ID), so the UI's runs table shows a pipeline's stages together,
    # also when DVC reran only some of them.
    root = parent is not None and inherited in (
        parent.info.run_id,
        parent.data.tags.get("mlflow.parentRunId"),
    )
    if root and pipeline_id == inherited and "mlflow.parentRunId" not in extra_tags:
        extra_tags = {**extra_tags, "mlflow.parentRunId": pipeline_id}
    tracked = StageRun(
        client, run_id, uri, str(cfg.tracking.experiment), experiment_id, pipeline_id, stage
    )
    try:
        # MLflow's own context providers first (user, source script and type, git), then ours.
        tags = resolve_tags({**run_tags(cfg, stage, pipeline_id, name), **extra_tags})
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        if log_config:
            container = OmegaConf.to_container(cfg, resolve=True)
            params = [Param(k, v) for k, v in hyperparameters(container).items()]
            client.log_batch(run_id, params=params)  # MLflow splits it into batches of 100
            tracked.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    return tracked


@contextmanager
def _system_metrics(cfg: DictConfig, tracked: StageRun) -> Iterator[None]:
    """MLflow's own system metrics (CPU, memory, disk, network; GPU where MLflow can read one)
    sampled into ``tracked`` while it is open, the UI's System metrics tab; off with
    ``runtime.system_metrics=false``. MLflow's ``$MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` sets
    the interval (default 10 s)."""
    if not OmegaConf.select(cfg, "runtime.system_metrics", default=False):
        yield
        return
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    # Its four INFO lines per run (starting, no GPU, stopping, stopped) would bury a stage's own.
    logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)
    monitor = SystemMetricsMonitor(tracked.run_id, tracking_uri=tracked.uri)
    monitor.start()
    try:
        yield
    finally:
        monitor.finish()


@contextmanager
def open_run(
    cfg: DictConfig,
    stage: str,
    upstream: Upstream | None,
    extra_tags: Mapping[str, str],
    name: str | None = None,
) -> Iterator[StageRun]:
    """:func:`start_run`, closed with FINISHED, FAILED on an error, KILLED on an interrupt: never
    left RUNNING. A DDP worker rank gets a silent run instead (:meth:`StageRun.silent`)."""
    if not launched_as_rank_zero():
        yield StageRun.silent(stage)
        return
    tracked = start_run(cfg, stage, upstream, extra_tags, name=name)
    status = "FAILED"
    try:
        with _system_metrics(cfg, tracked):
            yield tracked
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        end = lambda: tracked.client.set_terminated(tracked.run_id, status)  # noqa: E731
        tracked.ledger.attempt(f"the run's end ({status})", end)
    if tracked.ledger.missed:
        raise TrackingError(
            f"MLflow store {tracked.uri} failed during run {tracked.run_id}; the outputs are on"
            f" disk but these were not logged: {'; '.join(tracked.ledger.missed)}"
        )


_job: ContextVar[StageRun | None] = ContextVar("filterscope_job_run", default=None)


@contextmanager
def stage_run(cfg: DictConfig, stage: str, upstream: Upstream | None = None) -> Iterator[StageRun]:
    """The stage's MLflow run; inside :func:`job_run` the job's run, shared by its stages.

    A stage's pipeline id is ``$FILTERSCOPE_PIPELINE_ID`` when set, else inherited from the run
    that wrote its input (``upstream``), else its own run id.
    """
    job = _job.get()
    if job is not None:
        yield replace(job, stage=stage)
        return
    with open_run(cfg, stage, upstream, {}) as tracked:
        yield tracked


@contextmanager
def job_run(
    cfg: DictConfig, stage: str, extra_tags: Mapping[str, str], name: str | None = None
) -> Iterator[StageRun]:
    """One MLflow run for a whole job (a sweep point or a whole-chain run), named ``name``:
    every stage run inside logs into it."""
    with open_run(cfg, stage, None, extra_tags, name) as tracked:
        token = _job.set(tracked)
        try:
            yield tracked
        finally:
            _job.reset(token)
