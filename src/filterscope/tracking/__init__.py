"""The only package that talks to MLflow."""

from filterscope.tracking.run import StageRun, read_run_record, stage_run
from filterscope.tracking.store import project_root, tracking_uri

__all__ = ["StageRun", "project_root", "read_run_record", "stage_run", "tracking_uri"]
