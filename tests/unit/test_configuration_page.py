"""docs/configuration.md is tested against conf/, so it cannot drift: it names every config
group, every option of a group and every key of its files."""

from __future__ import annotations

import yaml

from tests.helpers.configs import CONF
from tests.helpers.imports import REPO

# Hydra's own folders and keys, not filterscope's configuration.
NOT_DOCUMENTED = {"hydra", "defaults"}


def _named() -> set[tuple[str, str]]:
    """(group, option or key) for every option file of every group and every key in it."""
    named = set()
    for folder in sorted(p for p in CONF.iterdir() if p.is_dir() and p.name not in NOT_DOCUMENTED):
        for option in folder.glob("*.yaml"):
            if option.stem not in {"default", "base"}:
                named.add((folder.name, option.stem))
            if folder.name != "experiment":  # a preset's keys are other groups' keys
                keys = yaml.safe_load(option.read_text()) or {}
                named |= {(folder.name, key) for key in keys if key not in NOT_DOCUMENTED}
    return named


def test_the_page_names_every_group_option_and_key_of_conf() -> None:
    page = (REPO / "docs" / "configuration.md").read_text()
    rows = {
        line.split("|")[1].strip(" `"): line for line in page.splitlines() if line.startswith("| `")
    }
    missing = sorted(
        (group, name)
        for group, name in _named()
        if group not in rows or f"`{name}`" not in rows[group]
    )
    assert missing == [], "docs/configuration.md: add each to its group's row"
