"""MLflow runs: one per pipeline stage (tied to the other stages of its pipeline), or one per
job when a sweep point or a whole-chain run groups its stages."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from filterscope.distributed import launched_as_rank_zero
from filterscope.errors import FilterscopeError
from filterscope.tracking.lineage import Upstream, content_hash, output_tag
from filterscope.tracking.names import changed_params, stage_name
from filterscope.tracking.params import hyperparameters
from filterscope.tracking.store import default_artifact_root, project_root, tracking_uri

# MLflow retries a failing server for minutes per call by default; a stage that has already
# checked the server at start gives up sooner and keeps training (see Ledger).
_HTTP_PATIENCE = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
PIPELINE_ENV = "FILTERSCOPE_PIPELINE_ID"
# How each prepared split is used, as MLflow's dataset-input context.
_CONTEXTS = {"train": "training", "test": "testing"}
# MLflow 3's experiment kind for classic model training (its UI reads this tag).
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
# What `make run` and `dvc repro` themselves rewrite: the composed params (logged in full with
# every run), the lock file and the git-kept metrics and plots. A change there is not a change
# of the code that ran, so it does not make a run `filterscope.git_dirty`.
_NOT_CODE = ("params.yaml", "dvc.lock", "metrics", "plots")


class TrackingError(FilterscopeError):
    """The tracking store cannot be used."""


def _git_commit(root: Path) -> tuple[str | None, bool]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                *(f":(exclude){path}" for path in _NOT_CODE),
            ],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, False
    return commit, bool(dirty)


@dataclass
class Ledger:
    """What could not be logged. After the store's first failure the rest of the run is not
    sent either (each call to a dead server would wait out its retries), only listed."""

    missed: list[str] = field(default_factory=list)

    def attempt(self, what: str, call: Callable[[], object]) -> None:
        if not self.missed:
            try:
                call()
                return
            except Exception as exc:  # noqa: BLE001 - any store failure is recorded the same way
                lines = str(exc).strip().splitlines()
                self.missed.append(f"{what} ({lines[0] if lines else type(exc).__name__})")
                return
        self.missed.append(what)


@dataclass(frozen=True)
class StageRun:
    """The MLflow run a stage logs to (always by run id); several stages share one in a job.

    Logging never stops a stage: a store that fails mid-run is recorded in ``ledger``, and the
    run's context reports it once the stage's outputs are on disk.
    """

    client: Any
    run_id: str
    uri: str
    experiment: str
    experiment_id: str
    pipeline_id: str
    stage: str
    ledger: Ledger = field(default_factory=Ledger)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        what = f"{len(batch)} metrics" + (f" of step {step}" if step is not None else "")
        self.ledger.attempt(what, lambda: self.client.log_batch(self.run_id, metrics=batch))

    def log_datasets(self, meta: Mapping[str, Any], prepared: Path, splits: Sequence[str]) -> None:
        """The prepared ``splits`` as MLflow dataset inputs of this run (the UI's Datasets),
        each with its file, the checksum the download stage recorded, and its use as the
        ``mlflow.data.context`` tag (training, testing)."""
        inputs = [_dataset_input(meta, Path(prepared), split) for split in splits]
        what = f"dataset inputs {', '.join(splits)}"
        self.ledger.attempt(what, lambda: _log_inputs(self.client, self.run_id, inputs))

    def log_model(self, model: Any, example: Any, metrics: Mapping[str, float]) -> None:
        """``model`` (an ``nn.Module``) as an MLflow model of this run, under the UI's "Logged
        models": saved with MLflow's PyTorch flavour, its signature inferred from ``example``
        (a batch of model inputs) and what the model returns for it, and linked to ``metrics``
        (the model's test scores, logged to the run here and only here).
        ``mlflow.pytorch.load_model("models:/<model id>")`` loads it: a ``torch.export`` graph,
        or a pickled module where the model cannot be exported."""
        import mlflow.pytorch
        import torch
        from mlflow.entities import LoggedModelOutput, Metric
        from mlflow.models import infer_signature

        def log() -> None:
            logged = self.client.create_logged_model(
                self.experiment_id, name="backbone", source_run_id=self.run_id, model_type="pytorch"
            )
            inputs = example.detach().float().cpu().contiguous()
            with torch.no_grad():
                outputs = model(inputs).float().numpy()
            signature = infer_signature(inputs.numpy(), outputs)
            with tempfile.TemporaryDirectory() as tmp:
                save = partial(
                    mlflow.pytorch.save_model,
                    model,
                    signature=signature,
                    input_example=inputs.numpy(),
                    pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
                )
                path = Path(tmp) / "backbone"
                try:  # MLflow's default: a torch.export graph, loaded without running code
                    save(str(path))
                except Exception:  # noqa: BLE001 - a module torch.export cannot trace
                    shutil.rmtree(path, ignore_errors=True)
                    save(str(path), serialization_format="pickle")
                self.client.log_model_artifacts(logged.model_id, str(path))
            self.client.finalize_logged_model(logged.model_id, "READY")
            self.client.log_outputs(self.run_id, [LoggedModelOutput(logged.model_id, step=0)])
            now = int(time.time() * 1000)
            linked = [
                Metric(k, float(v), now, 0, model_id=logged.model_id) for k, v in metrics.items()
            ]
            self.client.log_batch(self.run_id, metrics=linked)

        self.ledger.attempt("the backbone as an MLflow model", log)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        log = self.client.log_artifacts if Path(path).is_dir() else self.client.log_artifact
        what = f"artifact {Path(path).name}"
        self.ledger.attempt(what, lambda: log(self.run_id, str(path), artifact_path))

    def log_text(self, text: str, artifact_file: str) -> None:
        what = f"artifact {artifact_file}"
        self.ledger.attempt(what, lambda: self.client.log_text(self.run_id, text, artifact_file))

    def set_tag(self, key: str, value: str) -> None:
        what = f"tag {key}"
        self.ledger.attempt(what, lambda: self.client.set_tag(self.run_id, key, value))

    def take_over(self, earlier: Sequence[str]) -> None:
        """This run resumes the ``earlier`` runs' work: any still RUNNING (its process was
        killed outright) ends as KILLED; each is tagged ``filterscope.resumed_by`` this run."""
        for run_id in earlier:
            if run_id == self.run_id:
                continue

            def end(run_id: str = run_id) -> None:
                try:
                    status = self.client.get_run(run_id).info.status
                except Exception:  # noqa: BLE001 - deleted from the store: nothing to end
                    return
                if status == "RUNNING":
                    self.client.set_terminated(run_id, "KILLED")
                self.client.set_tag(run_id, "filterscope.resumed_by", self.run_id)

            self.ledger.attempt(f"the end of earlier run {run_id}", end)
        if earlier:
            self.set_tag("filterscope.resumes", ",".join(earlier))

    def lightning_logger(self) -> Any:
        """Lightning's MLFlowLogger writing into this run (always with an explicit tracking URI);
        its per-epoch metrics go through this run's ledger too."""
        from lightning.pytorch.loggers import MLFlowLogger

        ledger = self.ledger

        class LedgerLogger(MLFlowLogger):
            def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
                what = f"{len(metrics)} metrics of step {step}"
                ledger.attempt(what, lambda: MLFlowLogger.log_metrics(self, metrics, step))

            def finalize(self, status: str = "success") -> None:
                """The stage's run context ends the run, not the logger."""

        return LedgerLogger(
            experiment_name=self.experiment, tracking_uri=self.uri, run_id=self.run_id
        )

    def record_output(self, directory: Path) -> None:
        """Tag this run with the content hash of the stage's finished output ``directory``, so
        the stage that reads it finds this run (nothing is written into the output)."""
        self.set_tag(output_tag(self.stage), content_hash(directory))


def _log_inputs(client: Any, run_id: str, inputs: list[Any]) -> None:
    """``client.log_inputs``, once more when the store's unique key refused it: two jobs of a
    sweep registered the same dataset at once and this one lost the insert; the dataset exists
    now, so the second call only links it to the run."""
    try:
        client.log_inputs(run_id, datasets=inputs)
    except Exception as exc:
        if "unique" not in str(exc).lower():
            raise
        client.log_inputs(run_id, datasets=inputs)


def _dataset_input(meta: Mapping[str, Any], prepared: Path, split: str) -> Any:
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag

    with warnings.catch_warnings():  # MLflow registers its local-file source twice
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(str((prepared / f"{split}.pt").resolve()))
    # MLflow keeps at most 36 characters of a digest: the SHA-256's first 32 hex digits.
    digest = meta["sha256"][split][:32]
    dataset = MetaDataset(source, name=f"{meta['name']}/{split}", digest=digest)
    context = InputTag("mlflow.data.context", _CONTEXTS[split])
    return DatasetInput(dataset._to_mlflow_entity(), tags=[context])


@dataclass(frozen=True)
class SilentRun:
    """A DDP worker rank's stand-in for its job's run: rank zero logs for every rank."""

    stage: str
    run_id: str = ""
    pipeline_id: str = ""
    ledger: Ledger = field(default_factory=Ledger)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        pass

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        pass

    def log_text(self, text: str, artifact_file: str) -> None:
        pass

    def log_datasets(self, meta: Mapping[str, Any], prepared: Path, splits: Sequence[str]) -> None:
        pass

    def log_model(self, model: Any, example: Any, metrics: Mapping[str, float]) -> None:
        pass

    def set_tag(self, key: str, value: str) -> None:
        pass

    def take_over(self, earlier: Sequence[str]) -> None:
        pass

    def lightning_logger(self) -> bool:
        return False  # Lightning: no logger

    def record_output(self, directory: Path) -> None:
        pass


def _check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast on a tracking server that does not answer (MLflow itself retries for minutes)."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        raise TrackingError(
            f"MLflow tracking server {uri} is unreachable ({exc}); start it or unset"
            " MLFLOW_TRACKING_URI / tracking.uri to use the embedded store"
        ) from exc


def experiment_id(client: Any, name: str, uri: str) -> str:
    """The experiment ``name`` (created if new), tagged as model development
    (:data:`EXPERIMENT_KIND`) so MLflow 3's UI opens it on its runs table, not its GenAI views."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            client.create_experiment(name, artifact_location=default_artifact_root(uri))
        except Exception:
            if client.get_experiment_by_name(name) is None:  # not another process, first
                raise
        experiment = client.get_experiment_by_name(name)
    key, kind = EXPERIMENT_KIND
    if experiment.tags.get(key) != kind:
        client.set_experiment_tag(experiment.experiment_id, key, kind)
    return experiment.experiment_id


def store_client(cfg: DictConfig) -> tuple[Any, str, str]:
    """A client for the configured store, its URI and the experiment id (created if new)."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(cfg.tracking.uri)
    _check_reachable(uri)
    for key, value in _HTTP_PATIENCE.items():
        os.environ.setdefault(key, value)
    client = MlflowClient(uri)
    try:
        return client, uri, experiment_id(client, str(cfg.tracking.experiment), uri)
    except Exception as exc:  # noqa: BLE001 - any store failure is reported the same way
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrackingError(f"MLflow tracking store {uri} is unusable: {first_line}") from exc


def _baseline_params(root: Path, rev: str) -> dict[str, str]:
    """The hyper-parameters of ``params.yaml`` as commit ``rev`` holds it (none if it cannot
    be read)."""
    try:
        text = subprocess.run(
            ["git", "show", f"{rev}:params.yaml"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return hyperparameters(OmegaConf.to_container(OmegaConf.create(text), resolve=True))
    except Exception:  # noqa: BLE001 - no git, no such commit, a file that does not compose
        return {}


def dvc_experiment_changes(cfg: DictConfig) -> dict[str, str]:
    """What ``dvc exp run -S`` set: the hyper-parameters that differ from the experiment's
    baseline commit (``$DVC_EXP_BASELINE_REV``); none outside a DVC experiment."""
    rev = os.environ.get("DVC_EXP_BASELINE_REV")
    if not rev:
        return {}
    base = _baseline_params(project_root(), rev)
    now = hyperparameters(OmegaConf.to_container(cfg, resolve=True))
    return changed_params(base, now) if base else {}


def _tags(cfg: DictConfig, stage: str, pipeline_id: str, name: str | None) -> dict[str, str]:
    commit, dirty = _git_commit(project_root())
    if name is None:
        changes = dvc_experiment_changes(cfg)
        name = stage_name(stage, str(cfg.data.name), str(cfg.model.name), changes)
    tags = {
        "filterscope.stage": stage,
        "filterscope.pipeline_id": pipeline_id,
        "filterscope.profile": str(cfg.get("profile", "")),
        "filterscope.dataset": str(cfg.data.name),
        "filterscope.model": str(cfg.model.name),
        "filterscope.git_dirty": str(dirty).lower(),
        "mlflow.runName": name,
    }
    if "paths" in cfg:
        tags["filterscope.output_dir"] = str(Path(cfg.paths.root).resolve())
    if commit:
        tags["mlflow.source.git.commit"] = commit
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
    return tags


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
        tags = resolve_tags({**_tags(cfg, stage, pipeline_id, name), **extra_tags})
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
def open_run(
    cfg: DictConfig,
    stage: str,
    upstream: Upstream | None,
    extra_tags: Mapping[str, str],
    name: str | None = None,
) -> Iterator[StageRun | SilentRun]:
    """:func:`start_run`, closed with FINISHED, FAILED on an error, KILLED on an interrupt: never
    left RUNNING. A DDP worker rank gets a :class:`SilentRun` instead."""
    if not launched_as_rank_zero():
        yield SilentRun(stage)
        return
    tracked = start_run(cfg, stage, upstream, extra_tags, name=name)
    status = "FAILED"
    try:
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


_job: ContextVar[StageRun | SilentRun | None] = ContextVar("filterscope_job_run", default=None)


@contextmanager
def stage_run(
    cfg: DictConfig, stage: str, upstream: Upstream | None = None
) -> Iterator[StageRun | SilentRun]:
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
) -> Iterator[StageRun | SilentRun]:
    """One MLflow run for a whole job (a sweep point or a whole-chain run), named ``name``:
    every stage run inside logs into it."""
    with open_run(cfg, stage, None, extra_tags, name) as tracked:
        token = _job.set(tracked)
        try:
            yield tracked
        finally:
            _job.reset(token)
