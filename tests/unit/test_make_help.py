"""`make help` lists every target the Makefile declares phony, each with its one-line
description."""

from __future__ import annotations

import re
import subprocess

from tests.helpers.imports import REPO


def test_make_help_lists_every_phony_target_with_a_description() -> None:
    makefile = (REPO / "Makefile").read_text()
    phony = {t for line in re.findall(r"^\.PHONY:(.*)$", makefile, re.M) for t in line.split()}
    out = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = {}
    for line in out.splitlines():
        target, _, description = line.strip().partition(" ")
        listed[target] = description.strip()
    assert phony <= set(listed), f"without a description: {sorted(phony - set(listed))}"
    assert all(listed[t] for t in phony)
