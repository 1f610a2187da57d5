"""Where a run comes from: the git commit it ran (and whether the code was edited), what a DVC
experiment changed, and the tags that name and place the run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from filterscope.tracking.names import changed_params, stage_name
from filterscope.tracking.params import hyperparameters
from filterscope.tracking.store import project_root

# What `make run` and `dvc repro` themselves rewrite: the composed params (logged in full with
# every run), the lock file and the git-kept metrics and plots. A change there is not a change
# of the code that ran, so it does not make a run `filterscope.git_dirty`.
_NOT_CODE = ("params.yaml", "dvc.lock", "metrics", "plots")


def git_commit(root: Path) -> tuple[str | None, bool]:
    """The commit checked out at ``root`` and whether tracked code differs from it (not
    :data:`_NOT_CODE`); ``(None, False)`` outside git."""
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


def run_tags(cfg: DictConfig, stage: str, pipeline_id: str, name: str | None) -> dict[str, str]:
    """The tags every run carries: stage, pipeline, profile, dataset, model, commit and whether
    the code was edited, output folder, DVC experiment, and its name (``name``, else
    :func:`~filterscope.tracking.names.stage_name`)."""
    commit, dirty = git_commit(project_root())
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
