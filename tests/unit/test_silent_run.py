"""A DDP worker rank's silent run is the stage run that sends nothing: every logging method of
:class:`StageRun` is a no-op on it (it has no client to call), and nothing counts as missed."""

from __future__ import annotations

import inspect
from pathlib import Path

from filterscope.tracking import StageRun


def test_every_logging_method_of_a_silent_run_sends_nothing(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("a")
    calls = {
        "log_metrics": ({"loss": 1.0}, 3),
        "log_datasets": ({"name": "mnist", "sha256": {}}, tmp_path, ["train"]),
        "log_model": (object(), object(), {"test_acc": 0.5}),
        "log_artifact": (tmp_path / "out",),
        "log_text": ("text", "a.txt"),
        "set_tag": ("key", "value"),
        "take_over": (["earlier"],),
        "lightning_logger": (),
        "record_output": (tmp_path / "out",),
    }
    public = {
        name
        for name, member in inspect.getmembers(StageRun, inspect.isfunction)
        if not name.startswith("_")
    }
    assert set(calls) == public  # a new method of StageRun is called here too
    silent = StageRun.silent("train")
    results = {name: getattr(silent, name)(*args) for name, args in calls.items()}
    assert results["lightning_logger"] is False  # Lightning: no logger
    assert silent.ledger.missed == []
    assert (silent.stage, silent.client, silent.run_id) == ("train", None, "")


def test_a_sending_run_lists_what_its_failing_store_missed() -> None:
    class Down:
        def log_batch(self, *args: object, **kwargs: object) -> None:
            raise ConnectionError("store down\nretries exhausted")

    run = StageRun(Down(), "r1", "http://x", "e", "0", "p", "train")
    run.log_metrics({"loss": 1.0}, 2)
    run.set_tag("k", "v")  # after the first failure: listed, not sent
    assert run.ledger.missed == ["1 metrics of step 2 (store down)", "tag k"]
