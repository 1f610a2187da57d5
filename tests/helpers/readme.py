"""The README's commands, run as a user types them in a fresh clone of the project."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.pipeline_copy import run, tool_env

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent


def quickstart_commands(title: str = "Quick start") -> list[str]:
    """The shell lines of the code blocks of the README's section or subsection ``title`` (up to
    the next heading), comments dropped."""
    text = REPO.joinpath("README.md").read_text()
    section = re.split(rf"^#{{2,3}} {re.escape(title)}\n", text, maxsplit=1, flags=re.M)[1]
    section = re.split(r"^#{2,3} ", section, maxsplit=1, flags=re.M)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def fresh_copy(dest: Path) -> Path:
    """What `git clone` of this working tree gives: its tracked files, committed."""
    files = run(["git", "ls-files", "-z"], REPO).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    run(["git", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "clone"], dest)
    return dest


def shell(command: str, project: Path) -> subprocess.CompletedProcess[str]:
    """``command`` through the shell in ``project``, as a user types it; must succeed."""
    proc = subprocess.run(
        command, shell=True, cwd=project, env=tool_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
