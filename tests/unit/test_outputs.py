"""Outputs are replaced whole or not at all."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from filterscope.outputs import atomic_dir, json_ready, write_csv, write_json


def test_atomic_dir_replaces_on_success_and_keeps_the_old_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("first")
    assert (target / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("crash")
    assert (target / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_json_has_no_bare_infinity(tmp_path: Path) -> None:
    payload = {"snr": math.inf, "x": [math.nan, -math.inf, 1.5], "n": 2}
    assert json_ready(payload) == {"snr": "inf", "x": ["nan", "-inf", 1.5], "n": 2}
    path = write_json(tmp_path / "m" / "r.json", payload)
    assert json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(c))["snr"] == "inf"


def test_csv_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", [{"epoch": 1, "acc": 0.5}, {"epoch": 2, "acc": 0.75}])
    assert path.read_text().splitlines() == ["epoch,acc", "1,0.5", "2,0.75"]
