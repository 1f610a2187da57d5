"""Debian's headless Chromium for browser tests (never a browser download)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a sandboxed root session on a machine with no outside network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> Path:
    """The browser; skips the test without it, except under CI, where it fails."""
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is missing (Debian's chromium package; `make browser` installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must have it")
        pytest.skip(message)
    return CHROMIUM
