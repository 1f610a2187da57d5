"""`make ui`'s address opens the experiment on its runs table in a real MLflow UI.

Headless Debian Chromium driven by Playwright on a real `mlflow server`; the screenshot is kept
in test-artifacts/. Skipped without /usr/bin/chromium, except under CI.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from filterscope.stages import download, train
from filterscope.tracking.store import EXPERIMENT_KIND
from filterscope.tracking.ui import main as ui_main
from tests.helpers.browser import FLAGS, chromium
from tests.helpers.configs import config
from tests.helpers.mlflow_server import mlflow_server

pytestmark = pytest.mark.integration


def test_printed_address_lists_the_stage_runs(
    tmp_path: Path, mirror_dir: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    browser_path = chromium()
    from playwright.sync_api import sync_playwright

    with mlflow_server(f"sqlite:///{tmp_path}/server.db", tmp_path / "artifacts") as uri:
        overrides = [
            "experiment=mnist_convnet",
            f"data.source={mirror_dir / 'mnist'}",
            "data.train_limit=500",
            "data.test_limit=200",
            "train.epochs=1",
            "runtime.progress=false",
            f"tracking.uri={uri}",
        ]
        download.run(config(tmp_path, *overrides))
        train.run(config(tmp_path, *overrides))
        capsys.readouterr()
        ui_main(["--store", uri, "--url", uri])
        printed = capsys.readouterr().out
        (address,) = re.findall(r"http://\S+", printed)
        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name("filterscope")
        key, kind = EXPERIMENT_KIND
        assert experiment.tags[key] == kind
        assert address == (
            f"{uri}/#/experiments/{experiment.experiment_id}/runs?workflowType=machine_learning"
        )
        shot = repo_root / "test-artifacts" / "mlflow_ui_runs.png"
        shot.parent.mkdir(exist_ok=True)
        shot.unlink(missing_ok=True)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(browser_path), args=FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(address)
                # the pipeline's first run, with its later stages nested under it
                page.get_by_text("download-mnist-convnet").first.wait_for(timeout=90_000)
                page.screenshot(path=str(shot))
                row = page.get_by_role("row").filter(has_text="download-mnist-convnet")
                row.get_by_role("button").first.click()
                page.get_by_text("train-mnist-convnet").first.wait_for(timeout=30_000)
                assert "/runs" in page.url and "traces" not in page.url
                page.screenshot(path=str(shot))
            finally:
                browser.close()
    assert shot.stat().st_size > 20_000
