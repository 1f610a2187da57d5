"""Bad input: a one-line error naming the problem, exit status 2, before any work, no outputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from filterscope.cli import EXIT_USER_ERROR, report_errors
from filterscope.data.registry import get_spec
from filterscope.models import build_model
from filterscope.stages import download, extract, probe, report, train
from filterscope.tracking.lineage import content_hash
from filterscope.training.resume import resume_key
from tests.helpers.configs import CONF, config
from tests.helpers.pipeline_copy import tool_env

pytestmark = pytest.mark.integration


def fails(stage: Callable[[Any], Any], cfg: Any, capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``stage`` as its script does; return its one-line error message."""
    capsys.readouterr()  # drop what earlier, successful stages printed
    with pytest.raises(SystemExit) as exit_info:
        report_errors(stage, cfg)
    assert exit_info.value.code == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after any progress output
    assert err.startswith("error: "), err
    return err


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["data.name=imagenet"], "data.name='imagenet'"),
        (["model.name=resnet"], "unknown model 'resnet'"),
        (["probe.layers=[1,14]"], "probe.layers=[1, 14] out of range"),
        (["probe.layers=[0]"], "cut points 1..13"),
        (["model.kernel_size=35"], "model.kernel_size=35"),
        (["model=convnet", "data=mnist", "model.kernel_size=28"], "too large for 28x28"),
        (["train.lr=0"], "train.lr=0"),
        (["probe.lr=-0.1"], "probe.lr=-0.1"),
        (["model.dropout=1.0"], "model.dropout=1.0"),
        (["model.dropout=-0.5"], "model.dropout=-0.5"),
        (["data.val_fraction=1.5"], "data.val_fraction=1.5"),
        (["model.width=0"], "model.width=0 (allowed: a number > 0)"),
        (["model=convnet", "data=mnist", "model.filters=0"], "model.filters=0"),
        (["train.accelerator=tpu"], "train.accelerator='tpu' (allowed: auto|cpu|gpu|cuda|mps)"),
    ],
)
def test_bad_config_fails_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], overrides: list[str], named: str
) -> None:
    for stage in (download.run, train.run, probe.run, extract.run, report.run):
        assert named in fails(stage, config(tmp_path, *overrides), capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no store, no outputs


def test_every_invalid_key_is_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = fails(train.run, config(tmp_path, "train.lr=-1", "model.dropout=2"), capsys)
    assert "train.lr=-1" in err and "model.dropout=2" in err


SCRIPTS = Path(__file__).resolve().parents[2] / "pipeline"


@pytest.mark.parametrize(
    "primary",
    [[], ["--config-dir", str(CONF.parent), "--config-name", "params"]],
    ids=["conf", "params.yaml"],
)
def test_unknown_key_names_the_nearest_valid_one(tmp_path: Path, primary: list[str]) -> None:
    """A mistyped key, as a stage script sees it from a user or from DVC (params.yaml)."""
    cmd = [sys.executable, str(SCRIPTS / "train.py"), *primary, f"paths.root={tmp_path}"]
    cmd += [f"tracking.uri=sqlite:///{tmp_path}/m.db", "train.lrr=0.1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=tool_env(), cwd=tmp_path)
    assert proc.returncode == EXIT_USER_ERROR
    assert proc.stderr.strip().splitlines() == [
        "error: invalid config: unknown key train.lrr (did you mean train.lr?"
        " A new key is added with +train.lrr=...)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_batch_larger_than_the_training_split_is_refused(
    mnist_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(
        mnist_root, "experiment=mnist_convnet", "data.train_limit=256", "train.batch_size=512"
    )
    err = fails(train.run, cfg, capsys)
    assert "train.batch_size=512 (allowed: at most the 230 training images of mnist" in err
    client = MlflowClient(cfg.tracking.uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert "train" not in {r.data.tags["filterscope.stage"] for r in runs}  # refused before it


def test_stage_without_its_input_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "run the download stage" in fails(train.run, config(tmp_path), capsys)
    assert "backbone checkpoint" in fails(probe.run, config(tmp_path), capsys)
    assert "run the train stage" in fails(extract.run, config(tmp_path), capsys)
    assert "run the extract stage" in fails(report.run, config(tmp_path), capsys)


def _mnist_overrides(mirror_dir: Path) -> list[str]:
    return [
        "experiment=mnist_convnet",
        f"data.source={mirror_dir / 'mnist'}",
        "data.train_limit=256",
        "data.test_limit=128",
        "train.epochs=1",
        "runtime.progress=false",
    ]


def test_mismatched_checkpoint_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mirror_dir: Path
) -> None:
    base = _mnist_overrides(mirror_dir)
    download.run(config(tmp_path, *base))
    train.run(config(tmp_path, *base))
    err = fails(probe.run, config(tmp_path, *base, "model.filters=16"), capsys)
    assert "backbone checkpoint" in err and "rerun the train stage" in err
    (tmp_path / "models/backbone/backbone.pt").write_bytes(b"not a checkpoint")
    assert "is unreadable" in fails(probe.run, config(tmp_path, *base), capsys)


class _RunsCode:
    """Unpickling this runs a shell command (what a hostile checkpoint would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("stage", ["probe", "extract"])
def test_a_checkpoint_that_would_run_code_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stage: str
) -> None:
    """Backbone and probe files are loaded with ``weights_only=True``: a crafted file (say,
    pulled from a shared DVC remote) is refused with the one-line error, and its code never
    runs."""
    marker = tmp_path / "code-ran"
    target = {"probe": "models/backbone/backbone.pt", "extract": "models/probes/probes.pt"}
    if stage == "extract":  # a genuine backbone, so extract gets as far as the probes
        torch.save(_tiny_backbone_checkpoint(), _mkparent(tmp_path / target["probe"]))
    torch.save({"state_dict": _RunsCode(marker)}, _mkparent(tmp_path / target[stage]))
    run = {"probe": probe.run, "extract": extract.run}[stage]
    err = fails(run, config(tmp_path, "experiment=mnist_convnet", "probe.layers=[1]"), capsys)
    assert "is refused" in err and "posix.system" in err and target[stage] in err
    assert not marker.exists()


def test_a_resume_checkpoint_that_would_run_code_is_refused(
    tmp_path: Path, mnist_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lightning loads the epoch checkpoint it resumes from with ``weights_only=True`` too."""
    cfg = config(tmp_path, "experiment=mnist_convnet", "data.train_limit=256", data=mnist_root)
    key = resume_key(cfg, "train", content_hash(Path(cfg.paths.prepared)))
    marker = tmp_path / "code-ran"
    ckpt = _mkparent(tmp_path / ".resume" / f"train-{key}" / "last.ckpt")
    torch.save({"state_dict": _RunsCode(marker)}, ckpt)
    err = fails(train.run, cfg, capsys)
    assert f"resume checkpoint {ckpt} is refused" in err and "to start train over" in err
    assert not marker.exists()


def _mkparent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _tiny_backbone_checkpoint() -> dict[str, Any]:
    """What the train stage saves for the tutorial ConvNet on MNIST, with untrained weights."""
    cfg = config(Path("/nonexistent"), "experiment=mnist_convnet")
    spec = get_spec("mnist")
    model = build_model(cfg.model, spec.image_shape, len(spec.classes))
    return {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "dataset": "mnist",
        "image_shape": list(spec.image_shape),
        "classes": list(spec.classes),
        "state_dict": model.state_dict(),
    }


def test_wrong_checksum_leaves_no_prepared_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mirror_dir: Path
) -> None:
    cfg = config(
        tmp_path,
        "data=cifar10_subset",
        f"data.source={mirror_dir / 'cifar10-subset'}",
        "data.files.0.md5=00000000000000000000000000000000",
    )
    err = fails(download.run, cfg, capsys)
    assert "cifar-10-python-subset.tar.gz" in err and "md5" in err
    assert not (tmp_path / "data/prepared/cifar10").exists()
    assert not (tmp_path / "data/raw/cifar10/cifar-10-python-subset.tar.gz").exists()
    runs = MlflowClient(cfg.tracking.uri).search_runs(["0", "1"])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_truncated_mirror_file_fails_then_a_fixed_source_succeeds(
    tmp_path: Path, mirror_dir: Path
) -> None:
    """As a user sees it: the script's exit status and stderr; a retry after the fix works."""
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    for src in (mirror_dir / "mnist").glob("*.gz"):
        shutil.copy2(src, bad / src.name)
    blob = (bad / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (bad / "t10k-labels-idx1-ubyte.gz").write_bytes(blob[: len(blob) // 2])
    project = tmp_path / "project"
    project.mkdir()
    script = Path(__file__).resolve().parents[2] / "pipeline" / "download.py"
    common = ["data=mnist", f"paths.root={project}", f"tracking.uri=sqlite:///{project}/m.db"]

    def download_from(source: Path) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, str(script), *common, f"data.source={source}"]
        return subprocess.run(cmd, capture_output=True, text=True, env=tool_env(), cwd=project)

    proc = download_from(bad)
    assert proc.returncode == EXIT_USER_ERROR
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "t10k-labels-idx1-ubyte.gz" in last
    assert not (project / "data/prepared/mnist").exists()
    assert download_from(mirror_dir / "mnist").returncode == 0
    assert (project / "data/prepared/mnist/test.pt").is_file()


# `python pipeline/<script> ...` with torch unimportable: what a stage script can do before the
# stage module (torch, torchvision, Lightning: seconds) is imported.
WITHOUT_TORCH = (
    "import runpy, sys; sys.modules['torch'] = None; sys.argv = sys.argv[1:];"
    " runpy.run_path(sys.argv[0], run_name='__main__')"
)


@pytest.mark.parametrize(
    ("script", "bad", "message"),
    [
        ("train.py", ["train.lr=-1", "model.dropout=2"], "model.dropout=2 (allowed: a number"),
        ("train.py", ["trian.lr=0.1"], "unknown key trian.lr (did you mean train.lr?"),
        ("train.py", ["+train.lrr=0.1"], "unknown key train.lrr (did you mean train.lr? The"),
        ("probe.py", ["model.kernel_size=abc"], "model.kernel_size='abc' (allowed: an odd size"),
        ("train.py", ["model.depth=17"], "model.depth=17 (allowed: one of [11, 13, 16, 19])"),
        ("chain.py", ["train.epochs=0"], "train.epochs=0 (allowed: an integer >= 1)"),
        ("prune.py", ["prune.methods=[afcc,lottery]"], "prune.methods"),
        ("download.py", ["data=mnst"], "Could not find 'data/mnst'"),
    ],
)
def test_a_bad_config_is_refused_before_torch_is_imported(
    tmp_path: Path, script: str, bad: list[str], message: str
) -> None:
    """So a typo is refused in well under a second, not after the 6 s of torch and Lightning
    (bench/config_refusal.py; BENCHMARKS.md)."""
    cmd = [sys.executable, "-c", WITHOUT_TORCH, str(SCRIPTS / script), "data=mnist", *bad]
    cmd += [f"paths.root={tmp_path}", f"tracking.uri=sqlite:///{tmp_path}/m.db"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=tool_env(), cwd=tmp_path)
    assert proc.returncode == EXIT_USER_ERROR, proc.stderr[-2000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: invalid config: ") and message in line
    assert {p.name for p in tmp_path.iterdir()} <= {"outputs"}  # Hydra's run dir; no store


def test_a_good_config_needs_torch(tmp_path: Path) -> None:
    """The check above can fail: a valid config goes on to the stage, which needs torch."""
    cmd = [sys.executable, "-c", WITHOUT_TORCH, str(SCRIPTS / "train.py"), "data=mnist"]
    cmd += [f"paths.root={tmp_path}", f"tracking.uri=sqlite:///{tmp_path}/m.db"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=tool_env(), cwd=tmp_path)
    assert proc.returncode != 0 and "torch" in proc.stderr
