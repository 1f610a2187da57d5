"""Smoke runs of every benchmark's functions at tiny sizes: the sides do the same work and the
extraction baseline computes the same field matrices as ours. No timing is asserted."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench import (
    extract,
    gpu_check,
    memory,
    model_epochs,
    probe_pass,
    stage_exit,
    suite_cpu,
    time_to_accuracy,
    train_throughput,
)
from bench.common import StepClock, Timing, alternate, peak_rss, synthetic
from filterscope.config import validate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cifar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic(tmp_path_factory.mktemp("bench") / "prepared", "cifar10", train=300, test=60)


@pytest.mark.parametrize("name", list(model_epochs.MODELS))
def test_every_architecture_of_the_epoch_benchmark_trains(name: str, cifar: Path) -> None:
    case = train_throughput.Case("", "cifar10_subset", model_epochs.MODELS[name], 2, 2, 1.0)
    cfg = train_throughput.case_config(case, cifar, cifar.parent, steps=2)
    validate(cfg)
    assert train_throughput.ours(cfg, 1).images == 100


@pytest.mark.parametrize("case", train_throughput.CASES, ids=lambda c: c.data)
def test_train_sides_process_the_same_images(case: train_throughput.Case, tmp_path: Path) -> None:
    name = "cifar10" if case.data == "cifar10_subset" else case.data
    data = synthetic(tmp_path / "prepared", name, train=200, test=10)
    cfg = train_throughput.case_config(case, data, tmp_path, steps=2)
    results = train_throughput.run_case(cfg, warmup=1, repeats=1)
    assert len(results) == 5  # baseline, ours, unmetered, model step, bf16
    assert {side: runs[0].images for side, runs in results.items()} == dict.fromkeys(results, 100)
    part = train_throughput.run_case(cfg, 1, 1, [train_throughput.OURS, train_throughput.BF16])
    assert list(part) == [train_throughput.OURS, train_throughput.BF16]


def test_probe_sides_train_on_the_same_images(cifar: Path, tmp_path: Path) -> None:
    cfg = probe_pass.probe_config(cifar, tmp_path, steps=2)
    backbone = probe_pass.backbone_for(cfg)
    together = probe_pass.fit_probes(cfg, backbone, [1, 13], 1)
    apart = probe_pass.one_at_a_time(cfg, backbone, [1, 13], 1)
    bare = probe_pass.fit_probes(cfg, backbone, [1, 13], 1, probe_pass.UnmeteredProbes)
    assert together.images == apart.images == bare.images == 100


@pytest.mark.parametrize(
    ("model", "cuts", "layers"), [("vgg", "blocks", 13), ("vit", "blocks", 6), ("vit", "heads", 6)]
)
def test_extraction_baseline_gives_our_field_matrices(
    cifar: Path, tmp_path: Path, model: str, cuts: str, layers: int
) -> None:
    cfg = extract.extract_config(cifar, tmp_path, None, model, cuts)
    backbone, weights = extract.backbone_and_probes(cfg)
    ours, ours_fields = extract.ours(cfg, backbone, weights)
    loop, loop_fields = extract.per_unit_loop(cfg, backbone, weights)
    assert ours.images == loop.images == extract.inference(cfg, backbone).images == 60
    assert sorted(ours_fields) == sorted(loop_fields) == list(range(1, layers + 1))
    assert extract.max_difference(ours_fields, loop_fields) < 1e-5


def test_alternation_and_clock() -> None:
    order: list[str] = []

    def side(name: str) -> Timing:
        order.append(name)
        clock = StepClock(warmup=1)
        for _ in range(3):
            clock.batch_start()
            clock.step_end(4)
        return clock.timing()

    results = alternate({"a": lambda: side("a"), "b": lambda: side("b")}, repeats=2)
    assert order == ["a", "b", "b", "a", "a", "b"]  # the first round is discarded
    assert [t.images for t in results["a"] + results["b"]] == [8] * 4


def test_stage_memory_config_is_valid_and_peak_rss_is_measured(tmp_path: Path) -> None:
    validate(memory.memory_config(tmp_path, quick=True))
    seconds, mib = peak_rss(memory.import_stages)
    assert seconds == 0.0 and mib > 50


def test_gpu_check_runs_its_steps_on_the_cpu(tmp_path: Path) -> None:
    """bench/gpu_check.py at tiny sizes: both training sides, the probes, the projection, and
    the float32 identity under a bf16 autocast on this device."""
    data = synthetic(tmp_path / "synthetic", "cifar10", train=300, test=20)
    eager = gpu_check.train_rate(data, tmp_path / "eager", 3, False, 0.0625)
    probes = gpu_check.probe_rate(data, tmp_path / "probes", 3, 0.0625)
    assert eager.images == probes.images == 100  # 3 steps of 100, 2 of them warm-up
    plan = gpu_check.projection(Timing(1.0, 1000), Timing(1.0, 10_000))
    assert plan == {"train": 150 * 50.0, "probes": 30 * 5.0, "extract": 1.0}
    errors = gpu_check.field_identity(0.0625, torch.device("cpu"))
    assert max(errors.values()) < 1e-5


def test_time_to_accuracy_sides_score_the_same_validation_images(
    cifar: Path, tmp_path: Path
) -> None:
    cfg = time_to_accuracy.profile_config(cifar, tmp_path, 1)
    cfg.model.width, cfg.train.ema = 0.0625, 0.9  # small, and the averaged weights on both sides
    ours, plain = time_to_accuracy.ours(cfg), time_to_accuracy.plain(cfg)
    for curve in (ours, plain):
        assert len(curve.accuracy) == len(curve.seconds) == 1 and 0 <= curve.test_acc <= 1
        assert curve.accuracy[0] * 30 == round(curve.accuracy[0] * 30)  # 30 validation images
    curve = time_to_accuracy.Curve([0.5, 0.7, 0.65], [10.0, 20.0, 30.0])
    assert curve.reached(0.6) == (2, 20.0) and curve.reached(0.8) is None
    assert curve.within(25.0) == 0.7 and math.isnan(curve.within(5.0))


def test_a_frozen_stage_process_keeps_its_imports_out_of_the_collector() -> None:
    """The frozen side of the exit benchmark freezes what the imports built, once per process:
    a second call (a sweep job after the entry point) freezes nothing more."""
    check = "import gc; n = gc.get_freeze_count(); assert n > 100_000, n; "
    again = "freeze_imports(); assert gc.get_freeze_count() == n"
    source = f"{stage_exit.code('download', frozen=True)}; {check}{again}"
    assert stage_exit.cpu_seconds(source) > 0


def test_every_python_process_of_a_measured_run_records_its_cpu(tmp_path: Path) -> None:
    """The suite's CPU benchmark: a child Python process (and its own child) each append one
    record at exit, named by the test that was running; the totals add them up per test and
    per script."""
    log = tmp_path / "cpu.jsonl"
    env = suite_cpu.recorder_env(tmp_path, log) | {"PYTEST_CURRENT_TEST": "t.py::test_a[1] (call)"}
    spin = "sum(range(3_000_000))"
    child = f"import subprocess, sys; {spin}; subprocess.run([sys.executable, '-c', '{spin}'])"
    subprocess.run([sys.executable, "-c", child], env=env, check=True)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 2 and all(r["cpu"] > 0 for r in records)
    totals = suite_cpu.summarise(
        [*records, {"argv": ["/x/dvc", "repro"], "test": "", "worker": "gw0", "cpu": 1.5}]
    )
    cpu, count = totals["test"]["t.py::test_a"]
    assert count == 2 and cpu == pytest.approx(sum(r["cpu"] for r in records))
    assert totals["test"]["(pytest worker)"] == [1.5, 1]
    assert totals["script"]["-c"][1] == 2 and totals["script"]["dvc repro"] == [1.5, 1]
