"""The HTML report opens from disk in headless Chromium: table and figures in the DOM, a screenshot.

Needs Debian's /usr/bin/chromium (`make browser`); skipped without it, except under CI.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from matplotlib.image import imread

from filterscope.report.build import Afcc
from filterscope.stages.report import analyse, write_report
from tests.helpers.browser import FLAGS, chromium

pytestmark = pytest.mark.integration

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
LAYERS = [1, 2, 13]
WINDOW = (1400, 2000)


def _synthetic_fields(layer: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Field matrices of 8 filters: a strong diagonal, some label pairs, noise; one silent."""
    k = len(CLASSES)
    matrices = np.eye(k) + rng.normal(0.0, 0.15, size=(8, k, k))
    for m in matrices[::2]:
        a, b = rng.choice(k, size=2, replace=False)
        m[np.ix_([a, b], [a, b])] += 1.0
    matrices[-1] = -np.abs(matrices[-1])
    return {
        "matrices": matrices,
        "single_filter_accuracy": rng.uniform(0.1, 0.3, size=8),
        "probe_accuracy": np.float64(0.4 + 0.02 * layer),
        "classes": np.array(CLASSES),
        "node": np.array(f"blocks.{layer - 1}"),  # as the extract stage writes it
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    out.mkdir()
    with initialize_config_dir(str(repo_root / "conf"), version_base="1.3"):
        cfg = compose("config", [f"paths.root={out.parent}"])
    rng = np.random.default_rng(0)
    per_layer = {layer: _synthetic_fields(layer, rng) for layer in LAYERS}
    analysed = analyse(per_layer, float(cfg.analysis.theta))
    afcc = {layer: Afcc(0.3 + 0.01 * layer, 0.2) for layer in LAYERS}
    summary = [("dataset", "cifar10"), ("model", "vgg"), ("backbone test accuracy", 0.625)]
    write_report(cfg, per_layer, analysed, afcc, summary, out)
    return out / "report.html"


def _chromium_run(args: list[str], user_data: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(chromium()), "--headless", *FLAGS, f"--user-data-dir={user_data}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_rendered_dom_holds_the_table_and_every_figure(report: Path, tmp_path: Path) -> None:
    dom = _chromium_run(["--dump-dom", report.as_uri()], tmp_path / "profile").stdout
    assert '<table class="layers">' in dom
    body = dom.split('<table class="layers">', 1)[1].split("</table>", 1)[0]
    assert body.count("<tr>") == 1 + len(LAYERS)  # header and one row per layer
    figures = sorted(p.name for p in (report.parent / "figures").glob("*.png"))
    assert "afcc.png" in figures
    for name in figures:
        assert f'<img src="figures/{name}"' in dom
    assert "Resolved config" in dom


def test_screenshot(report: Path, tmp_path: Path, repo_root: Path) -> None:
    artifacts = repo_root / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "report_screenshot.png"
    shot.unlink(missing_ok=True)
    _chromium_run(
        [f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", report.as_uri()],
        tmp_path / "profile",
    )
    assert shot.is_file() and shot.stat().st_size > 50_000
    pixels = imread(shot)
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 100  # not blank
