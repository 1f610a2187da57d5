"""A throwaway copy of the project (git + DVC) with a tiny config, for running the real pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from filterscope.params import write_params

PROJECT_FILES = ("conf", "pipeline", "src", "dvc.yaml", ".dvc/config", ".dvcignore", ".gitignore")


def tool_env() -> dict[str, str]:
    """The environment with this interpreter's bin dir first (dvc, python) and no inherited
    tracking URI or pipeline id."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for key in ("MLFLOW_TRACKING_URI", "FILTERSCOPE_PIPELINE_ID", "DVC_EXP_NAME"):
        env.pop(key, None)
    return env


def run(cmd: Sequence[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), cwd=cwd, env=tool_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_project(repo: Path, dest: Path, groups: dict[str, str], values: dict[str, Any]) -> Path:
    """Copy the project into ``dest`` with a preset ``experiment=test`` as its default (group
    choices ``groups``, nested ``values``), compose params.yaml and commit it all.

    Putting the tiny settings in ``conf/`` (not just params.yaml) keeps them when ``dvc exp run``
    recomposes params.yaml from ``conf/``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = repo / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, target)
    preset = {"defaults": [{f"override /{g}": option} for g, option in groups.items()], **values}
    (dest / "conf/experiment/test.yaml").write_text(
        "# @package _global_\n" + yaml.safe_dump(preset)
    )
    config = dest / "conf/config.yaml"
    config.write_text(config.read_text().replace("- experiment: null", "- experiment: test"))
    write_params(dest)
    run(["git", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], dest)
    return dest
