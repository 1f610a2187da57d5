"""A stage's DVC params are what it reads. Each stage runs for real (a tiny VGG-11 on MNIST from
the mirror) while every config key it reads is recorded (tests/helpers/config_reads.py); each
key must be one of its `params:` in dvc.yaml, output-neutral, or a param of a stage upstream of
it, reaching it only through that stage's hashed output, and then changing the key must change
that output's hash."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from filterscope.tracking.params import OUTPUT_NEUTRAL
from tests.helpers.config_reads import Reads, recorded_reads
from tests.helpers.configs import config
from tests.helpers.imports import REPO

pytestmark = pytest.mark.integration
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
TINY = (
    "data=mnist",
    "model.depth=11",
    "model.width=0.0625",
    "data.train_limit=300",
    "data.test_limit=100",
    "train.epochs=1",
    "probe.epochs=1",
    "prune.epochs=1",
    "runtime.progress=false",
    "runtime.system_metrics=false",
)


def _under(key: str, params: list[str]) -> bool:
    return any(key == p or key.startswith(f"{p}.") for p in params)


def upstream(stage: str) -> list[str]:
    """The stages whose outputs ``stage`` depends on, directly or not (dvc.yaml)."""
    deps = set(STAGES[stage]["deps"])
    found = [
        other
        for other, spec in STAGES.items()
        if any(
            _under(dep, [str(out)]) or dep == out for dep in deps for out in spec.get("outs", [])
        )
    ]
    return sorted({s for d in found for s in [d, *upstream(d)]})


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _run(stage: str, root: Path, *overrides: str) -> Any:
    return importlib.import_module(f"filterscope.stages.{stage}").run(config(root, *overrides))


@pytest.fixture(scope="module")
def reads(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> dict[str, Reads]:
    root = tmp_path_factory.mktemp("reads")
    found = {}
    with pytest.MonkeyPatch.context() as patch:
        for stage in STAGES:
            source = [f"data.source={mirror_dir / 'mnist'}"] if stage == "download" else []
            cfg = config(root, *TINY, *source)
            run = importlib.import_module(f"filterscope.stages.{stage}").run
            with recorded_reads(patch) as seen:
                run(cfg)
            found[stage] = seen
    found["root"] = root  # type: ignore[assignment]
    return found


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_key_a_stage_reads_is_tracked(stage: str, reads: dict[str, Reads]) -> None:
    params = [str(p) for p in STAGES[stage].get("params", [])]
    above = [str(p) for s in upstream(stage) for p in STAGES[s].get("params", [])]
    read = reads[stage].leaves | reads[stage].wholes
    assert read, "the recorder saw the stage read its config"
    untracked = sorted(
        k
        for k in read
        if k.split(".")[0] not in OUTPUT_NEUTRAL and not _under(k, params) and not _under(k, above)
    )
    assert untracked == [], f"{stage} reads keys that no param of it or upstream tracks"


def test_a_key_read_through_an_upstream_output_changes_that_outputs_hash(
    reads: dict[str, Reads], tmp_path: Path, mirror_dir: Path
) -> None:
    """The probe stage reads data.test_limit, a param of train only: it reaches probe through
    backbone.pt, whose hash must change with it; extract reads probe.layers through probes.pt."""
    root: Path = reads["root"]  # type: ignore[assignment]
    assert "data.test_limit" in reads["probe"].leaves and "probe.layers" in reads["extract"].leaves
    assert "train" in upstream("probe") and "probe" in upstream("extract")
    other = tmp_path / "other"
    _run("download", other, *TINY, f"data.source={mirror_dir / 'mnist'}")
    _run("train", other, *TINY, "data.test_limit=90")
    backbone = "models/backbone/backbone.pt"
    assert _md5(other / backbone) != _md5(root / backbone)
    _run("train", other, *TINY)  # back to the first run's backbone, byte for byte
    assert _md5(other / backbone) == _md5(root / backbone)
    _run("probe", other, *TINY, "probe.layers=[1,2]")
    probes = "models/probes/probes.pt"
    assert _md5(other / probes) != _md5(root / probes)
