"""The only package that talks to MLflow."""

from filterscope.tracking.lineage import Upstream
from filterscope.tracking.run import SilentRun, StageRun, job_run, stage_run
from filterscope.tracking.store import project_root, tracking_uri
from filterscope.tracking.sweep import SweepRun, sweep_tags

__all__ = [
    "SilentRun",
    "StageRun",
    "SweepRun",
    "Upstream",
    "job_run",
    "project_root",
    "stage_run",
    "sweep_tags",
    "tracking_uri",
]
