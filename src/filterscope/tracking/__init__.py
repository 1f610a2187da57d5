"""The only package that talks to MLflow."""

from filterscope.tracking.ledger import StageRun
from filterscope.tracking.lineage import Upstream
from filterscope.tracking.run import job_run, stage_run
from filterscope.tracking.store import project_root, tracking_uri
from filterscope.tracking.sweep import SweepRun, sweep_tags

__all__ = [
    "StageRun",
    "SweepRun",
    "Upstream",
    "job_run",
    "project_root",
    "stage_run",
    "sweep_tags",
    "tracking_uri",
]
