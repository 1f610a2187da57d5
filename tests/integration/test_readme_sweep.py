"""The README's sweep recipe, run as written on a fresh clone (offline: the mirror's MNIST),
each stage line on a tiny config: the data first, then the grid sweep, a whole-chain sweep
and the comparison with its UI address."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.helpers.readme import fresh_copy, quickstart_commands, shell

pytestmark = pytest.mark.integration
TINY = "data.train_limit=300 data.test_limit=100 train.epochs=1 probe.epochs=1"


def test_the_sweep_recipe_runs_on_a_fresh_clone(tmp_path: Path, mirror_dir: Path) -> None:
    project = fresh_copy(tmp_path / "clone")
    lines = quickstart_commands(
        "Sweep lr, dropout and kernel size, then compare them in the MLflow UI"
    )
    lines = lines[: lines.index("python pipeline/compare.py") + 1]  # the recipe
    assert lines[0].startswith("python pipeline/download.py")  # the data before any sweep
    printed = ""
    for line in lines:
        if line.startswith("python pipeline/download.py"):
            line += f" data.source={mirror_dir / 'mnist'}"  # the README's offline variant
        elif " -m " in line:
            line += f" {TINY} runtime.progress=false"
        printed = shell(line, project).stderr
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("filterscope").experiment_id
    sweeps = client.search_runs(
        [experiment], "tags.`filterscope.stage` = 'sweep'", order_by=["attributes.start_time"]
    )
    assert [s.info.run_name for s in sweeps] == [
        "sweep lr x dropout x kernel_size (mnist-convnet)",
        "chain sweep lr (mnist-convnet)",
    ]
    grid, chain = (
        client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{s.info.run_id}'")
        for s in sweeps
    )
    assert len({r.info.run_name for r in grid}) == 27
    assert "train lr=0.01 dropout=0.25 kernel_size=5" in {r.info.run_name for r in grid}
    assert {r.info.run_name for r in chain} == {"chain lr=0.01", "chain lr=0.001"}
    # compare.py compared the newest sweep and printed the address that compares its runs
    (address,) = re.findall(r"side by side: (\S+)", printed)
    assert address.startswith("http://127.0.0.1:5000/#/compare-runs?")
    assert all(r.info.run_id in address for r in chain)
    assert client.get_run(sweeps[1].info.run_id).data.tags["filterscope.compare_url"] == address
