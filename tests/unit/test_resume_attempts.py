"""The attempts beside a resume folder: a live earlier attempt is refused, a dead one is handed
over (its MLflow run is ended by the rerun)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import psutil
import pytest

from filterscope.training.resume import StageBusy, earlier_attempts, record_attempt


def _attempts(folder: Path, pid: int, started: float) -> None:
    entry = {"run_id": "r1", "pid": pid, "host": socket.gethostname(), "started": started}
    folder.with_name(folder.name + ".attempts.json").write_text(json.dumps([entry]))


def test_a_live_earlier_attempt_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "train-abc"
    folder.mkdir()
    with subprocess.Popen(["sleep", "30"]) as other:
        try:
            _attempts(folder, other.pid, psutil.Process(other.pid).create_time())
            with pytest.raises(StageBusy, match=rf"already running .*pid {other.pid}"):
                earlier_attempts(folder, "train")
            # the same pid with another start time is a reused pid: that attempt is dead
            _attempts(folder, other.pid, 1.0)
            assert [a["run_id"] for a in earlier_attempts(folder, "train")] == ["r1"]
        finally:
            other.kill()


def test_attempts_accumulate_and_a_fresh_folder_has_none(tmp_path: Path) -> None:
    folder = tmp_path / "probe-abc"
    folder.mkdir()
    assert earlier_attempts(folder, "probe") == []
    record_attempt(folder, [], "r1")
    first = earlier_attempts(folder, "probe")  # our own pid: not "another live process"
    record_attempt(folder, first, "r2")
    assert [a["run_id"] for a in earlier_attempts(folder, "probe")] == ["r1", "r2"]
    assert list(folder.iterdir()) == []  # the checkpoint folder stays Lightning's alone
