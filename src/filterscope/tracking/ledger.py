"""Failure-tolerant logging into one MLflow run: a store that fails mid-stage never stops the
stage; what could not be logged is listed and reported once the outputs are on disk."""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from filterscope.tracking.lineage import content_hash, output_tag

# How each prepared split is used, as MLflow's dataset-input context.
_CONTEXTS = {"train": "training", "test": "testing"}


@dataclass
class Ledger:
    """What could not be logged. After the store's first failure the rest of the run is not
    sent either (each call to a dead server would wait out its retries), only listed."""

    missed: list[str] = field(default_factory=list)
    sends: bool = True
    """False for a silent run's ledger: nothing is sent, nothing counts as missed."""

    def attempt(self, what: str, call: Callable[[], object]) -> None:
        """``call()``, unless the store has failed before (then ``what`` is only listed)."""
        if not self.sends:
            return
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
    run's context reports it once the stage's outputs are on disk. :meth:`silent` is the same
    run that sends nothing, for a DDP worker rank.
    """

    client: Any
    run_id: str
    uri: str
    experiment: str
    experiment_id: str
    pipeline_id: str
    stage: str
    ledger: Ledger = field(default_factory=Ledger)

    @classmethod
    def silent(cls, stage: str) -> StageRun:
        """A DDP worker rank's stand-in for its job's run: rank zero logs for every rank."""
        return cls(None, "", "", "", "", "", stage, Ledger(sends=False))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        what = f"{len(metrics)} metrics" + (f" of step {step}" if step is not None else "")
        batch = partial(_metrics, metrics, step or 0)
        self.ledger.attempt(what, lambda: self.client.log_batch(self.run_id, metrics=batch()))

    def log_datasets(self, meta: Mapping[str, Any], prepared: Path, splits: Sequence[str]) -> None:
        """The prepared ``splits`` as MLflow dataset inputs of this run (the UI's Datasets),
        each with its file, the checksum the download stage recorded, and its use as the
        ``mlflow.data.context`` tag (training, testing)."""

        def log() -> None:
            inputs = [_dataset_input(meta, Path(prepared), split) for split in splits]
            _log_inputs(self.client, self.run_id, inputs)

        self.ledger.attempt(f"dataset inputs {', '.join(splits)}", log)

    def log_model(self, model: Any, example: Any, metrics: Mapping[str, float]) -> None:
        """``model`` (an ``nn.Module``) as an MLflow model of this run, under the UI's "Logged
        models": saved with MLflow's PyTorch flavour, its signature inferred from ``example``
        (a batch of model inputs) and what the model returns for it, and linked to ``metrics``
        (the model's test scores, logged to the run here and only here).
        ``mlflow.pytorch.load_model("models:/<model id>")`` loads it: a ``torch.export`` graph,
        or a pickled module where the model cannot be exported."""
        import mlflow.pytorch
        import torch
        from mlflow.entities import LoggedModelOutput
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
            linked = _metrics(metrics, 0, logged.model_id)
            self.client.log_batch(self.run_id, metrics=linked)

        self.ledger.attempt("the backbone as an MLflow model", log)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        def log() -> None:
            client = self.client
            send = client.log_artifacts if Path(path).is_dir() else client.log_artifact
            send(self.run_id, str(path), artifact_path)

        self.ledger.attempt(f"artifact {Path(path).name}", log)

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
        its per-epoch metrics go through this run's ledger too. A silent run: False (none)."""
        from lightning.pytorch.loggers import MLFlowLogger

        ledger = self.ledger
        if not ledger.sends:
            return False  # Lightning: no logger

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
        if self.ledger.sends:
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


def _metrics(metrics: Mapping[str, float], step: int, model_id: str | None = None) -> list[Any]:
    """``metrics`` as MLflow metrics of ``step``, stamped now (linked to a logged model)."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric(k, float(v), now, step, model_id=model_id) for k, v in metrics.items()]
