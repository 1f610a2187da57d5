"""The documentation site builds with `mkdocs build --strict` (as `make docs` runs it), every
page of docs/ is in it, and a dead link fails the build."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from filterscope import analysis
from tests.helpers.imports import REPO

pytestmark = pytest.mark.integration
MKDOCS = [sys.executable, "-m", "mkdocs", "build", "--strict"]


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [*MKDOCS, "--site-dir", str(site)], cwd=project, capture_output=True, text=True, env=env
    )


def _copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "mkdocs.yml", project)
    shutil.copytree(REPO / "docs", project / "docs", ignore=shutil.ignore_patterns("results"))
    return project


def test_the_site_builds_strictly_with_every_page(tmp_path: Path) -> None:
    built = _build(REPO, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    pages = {p.stem for p in (REPO / "docs").glob("*.md")}
    nav = {
        Path(next(iter(e.values()))).stem
        for e in yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]
    }
    assert pages == nav  # every page is reachable from the navigation
    method = (tmp_path / "site" / "method" / "index.html").read_text()
    assert 'id="phases"' in method and 'id="definitions"' in method  # the sections code cites
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    documented = {
        name.rsplit(".", 1)[-1] for name in re.findall(r'id="filterscope\.analysis\.([\w.]+)"', api)
    }
    assert set(analysis.__all__) - {"DEFAULT_THETA"} <= documented  # from the docstrings


def test_a_dead_link_fails_the_build(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    page = project / "docs" / "scaling.md"
    page.write_text(page.read_text() + "\nSee [the missing page](missing.md).\n")
    built = _build(project, tmp_path / "site")
    assert built.returncode != 0
    assert "missing.md" in built.stderr
