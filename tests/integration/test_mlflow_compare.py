"""A sweep compared in a real MLflow UI, as a researcher does it after every sweep.

Two small real sweeps of two values of two keys (lr x dropout): one of the train stage, one of
whole chains probed at two cut points. A real `mlflow server` over their store, headless Debian
Chromium driven by Playwright: the runs table, the chart view, and the compare page at the
address `pipeline/compare.py` prints. Screenshots go to test-artifacts/ (the README's and the
docs' pictures come from them). Skipped without /usr/bin/chromium, except under CI.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from itertools import product
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from mlflow.tracking import MlflowClient

from filterscope.tracking.ui import main as ui_main
from tests.helpers.browser import FLAGS, chromium
from tests.helpers.mlflow_server import mlflow_server
from tests.helpers.pipeline_copy import tool_env
from tests.helpers.sweeps import PIPELINE, multirun

pytestmark = pytest.mark.integration
GRID = ("train.lr=0.01,0.001", "model.dropout=0,0.5")
NAMES = {f"lr={lr} dropout={dropout}" for lr, dropout in product(("0.01", "0.001"), ("0", "0.5"))}
NEUTRAL = ("paths.", "runtime.", "tracking.", "compare.", "chain.", "profile", "objective")


def _sweeps(client: MlflowClient, experiment: str) -> dict[str, tuple[Any, list[Any]]]:
    """Each sweep's parent run and child runs, by the stage its children ran."""
    found = {}
    for parent in client.search_runs([experiment], "tags.`filterscope.stage` = 'sweep'"):
        query = f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
        children = client.search_runs([experiment], query)
        found[children[0].data.tags["filterscope.stage"]] = (parent, children)
    return found


@pytest.fixture(scope="module")
def store(mnist_root: Path) -> dict[str, Any]:
    """The two sweeps, and what the UI needs to find them."""
    train = multirun(mnist_root, "train.py", *GRID)  # two epochs: a line per job
    assert train.returncode == 0, train.stderr[-3000:]
    chain = multirun(
        mnist_root,
        "chain.py",
        "train.epochs=1",
        "chain.prune=false",
        "probe.cuts=[blocks.0.0,blocks.0.2]",  # two cut points: the conv, then the pool
        *GRID,
    )
    assert chain.returncode == 0, chain.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{mnist_root}/mlflow.db")
    experiment = client.get_experiment_by_name("filterscope").experiment_id
    found = {"client": client, "experiment": experiment, **_sweeps(client, experiment)}
    return {**found, "printed": train.stderr}


@pytest.fixture(scope="module")
def ui(mnist_root: Path) -> Iterator[str]:
    with mlflow_server(f"sqlite:///{mnist_root}/mlflow.db", mnist_root / "served") as uri:
        yield uri


@pytest.fixture
def page(repo_root: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium()), args=FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1600, "height": 1100})
        finally:
            browser.close()


def shot(repo_root: Path, name: str) -> Path:
    path = repo_root / "test-artifacts" / name
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    return path


def test_runs_are_named_by_their_values_and_log_only_hyperparameters(
    store: dict[str, Any],
) -> None:
    for stage in ("train", "chain"):
        parent, children = store[stage]
        prefix = "" if stage == "train" else "chain "
        assert parent.info.run_name == f"{prefix}sweep lr x dropout (mnist-convnet)"
        assert {c.info.run_name for c in children} == {f"{stage} {n}" for n in NAMES}
    runs = store["client"].search_runs([store["experiment"]])
    assert not [k for r in runs for k in r.data.params if k.startswith(NEUTRAL)]
    children = store["train"][1]
    keys = set().union(*(c.data.params for c in children))
    differ = {k for k in keys if len({c.data.params.get(k) for c in children}) > 1}
    assert differ == {"train.lr", "model.dropout"}  # what the compare page lists as differing
    # the sweep's end printed, and linked on its parent run, the address comparing its runs
    (address,) = re.findall(r"side by side: (\S+)", store["printed"])
    assert store["client"].get_run(store["train"][0].info.run_id).data.tags[
        "filterscope.compare_url"
    ] == address and all(c.info.run_id in address for c in children)
    download = next(r for r in runs if r.data.tags["filterscope.stage"] == "download")
    assert download.data.tags["filterscope.train_images"] == "60000" and not download.data.metrics


def _close_assistant(page: Any) -> None:
    """MLflow's assistant panel, which takes a third of the page, closed."""
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.first.click()


def _open_sweep(page: Any, address: str, sweep: str) -> None:
    """The runs table at ``address``, the assistant panel closed, the ``sweep`` row expanded."""
    page.goto(address)
    name = page.get_by_text(sweep, exact=True)
    name.first.wait_for(timeout=90_000)
    _close_assistant(page)
    page.get_by_role("row").filter(has=name).get_by_role("button").first.click()


def _line_chart(page: Any, metric: str) -> tuple[set[str], int]:
    """The run names in the legend of the chart view's line chart of ``metric``, and how many
    lines it draws. Found as a person finds it among dozens: by the charts' search box."""
    page.get_by_placeholder("Search metric charts").fill(metric)
    page.wait_for_timeout(1_500)  # the grid filters, then draws
    cards = page.locator("[data-testid='experiment-view-compare-runs-card']")
    for i in range(cards.count()):
        names = cards.nth(i).locator("svg + span").all_text_contents()
        suffix = f" ({metric})"
        if any(n.endswith(suffix) for n in names):  # a line's legend: "<run> (<metric>)"
            lines = cards.nth(i).locator("path.js-line").count()
            return {n.removesuffix(suffix) for n in names}, lines
    raise AssertionError(f"no line chart of {metric}")


def test_the_runs_table_and_the_chart_view_tell_the_jobs_apart(
    store: dict[str, Any], ui: str, page: Any, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parent, children = store["train"]
    ui_main(["--store", ui, "--url", ui])
    (address,) = re.findall(r"http://\S+", capsys.readouterr().out)  # what `make ui` prints
    _open_sweep(page, address, parent.info.run_name)
    rows = page.get_by_role("row")
    for name in NAMES:
        rows.filter(has_text=f"train {name}").first.wait_for(timeout=30_000)
    page.screenshot(path=shot(repo_root, "mlflow_sweep_runs.png"))
    page.locator("label:has(input[value='CHART'])").click()
    page.locator("[data-testid='experiment-view-compare-runs-card']").first.wait_for()
    page.wait_for_timeout(2_000)  # the charts draw after their cards
    page.screenshot(path=shot(repo_root, "mlflow_sweep_charts.png"))
    for metric in ("val_acc", "train_loss", "seconds"):
        names, _ = _line_chart(page, metric)
        assert {f"train {n}" for n in NAMES} <= names, metric


def test_the_printed_address_compares_the_swept_keys(
    store: dict[str, Any], ui: str, page: Any, mnist_root: Path, repo_root: Path
) -> None:
    parent, children = store["train"]
    cmd = [
        sys.executable,
        str(PIPELINE / "compare.py"),
        f"compare.sweep={parent.info.run_id}",
        f"compare.ui={ui}",
        f"tracking.uri=sqlite:///{mnist_root}/mlflow.db",
    ]
    proc = subprocess.run(cmd, cwd=mnist_root, env=tool_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (address,) = re.findall(rf"side by side: ({re.escape(ui)}\S+)", proc.stderr)
    tags = store["client"].get_run(parent.info.run_id).data.tags
    assert tags["filterscope.compare_url"] == address and address in tags["mlflow.note.content"]
    page.goto(address)
    page.get_by_text(f"Comparing {len(children)} Runs").first.wait_for(timeout=90_000)
    page.locator("text.axis-title").first.wait_for()
    _close_assistant(page)
    page.wait_for_timeout(1_000)
    page.screenshot(path=shot(repo_root, "mlflow_compare.png"), full_page=True)
    text = page.inner_text("body")
    assert all(f"train {n}" in text for n in NAMES)  # the run details' column heads
    params = set().union(*(c.data.params for c in children))
    axes = page.locator("text.axis-title").all_text_contents()
    assert {a for a in axes if a in params} == {"train.lr", "model.dropout"}
    # the model-training view kept: its sidebar, not the GenAI one
    assert "Model registry" in text and "Prompts" not in text


def test_a_chain_sweep_draws_its_layers_as_a_line_per_job(
    store: dict[str, Any], ui: str, page: Any, repo_root: Path
) -> None:
    parent, children = store["chain"]
    query = {
        "workflowType": "machine_learning",
        "searchFilter": f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    }
    address = f"{ui}/#/experiments/{store['experiment']}/runs?{urlencode(query)}"
    _open_sweep(page, address, parent.info.run_name)
    page.get_by_text("chain lr=0.01 dropout=0.5").first.wait_for(timeout=30_000)
    page.locator("label:has(input[value='CHART'])").click()
    page.locator("[data-testid='experiment-view-compare-runs-card']").first.wait_for()
    page.wait_for_timeout(2_000)
    page.screenshot(path=shot(repo_root, "mlflow_chain_layers.png"))
    for metric in ("probe_accuracy", "snr_threshold", "noise_per_filter"):
        names, lines = _line_chart(page, metric)
        assert {f"chain {n}" for n in NAMES} <= names and lines >= len(NAMES), metric
    steps = {
        m.step
        for c in children
        for m in store["client"].get_metric_history(c.info.run_id, "snr_threshold")
    }
    assert steps == {1, 2}  # step = layer: two cut points, so a line per job


def test_the_model_training_switch_is_kept_by_the_browser(
    store: dict[str, Any], ui: str, page: Any
) -> None:
    """What docs/sweeps.md says of MLflow 3.17: the bare experiment address opens by the sidebar's
    workflow switch (GenAI at first), and once "Model training" is clicked the browser keeps it."""
    parent, _ = store["train"]
    bare = f"{ui}/#/experiments/{store['experiment']}"
    page.goto(bare)
    page.get_by_text("Prompts", exact=True).first.wait_for(timeout=90_000)  # at first: GenAI
    # the sidebar's switch; dispatched, as a click while the GenAI page still lays out can land
    # on an overlay (seen under CI's load)
    page.get_by_text("Model training", exact=True).first.dispatch_event("click")
    page.get_by_text(parent.info.run_name, exact=True).first.wait_for(timeout=60_000)
    page.goto("about:blank")
    page.goto(bare)  # no workflowType in the address
    page.get_by_text(parent.info.run_name, exact=True).first.wait_for(timeout=60_000)
    assert "/runs" in page.url and "Model registry" in page.inner_text("body")
