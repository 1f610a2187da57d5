"""Every citation of the method points at the project's own page: no tracked file names the
steering design's file, which users do not have, and every section a citation names exists in
docs/method.md."""

from __future__ import annotations

import re
import subprocess

from tests.helpers.imports import REPO

OUTSIDE = "METHOD" + ".md"  # spelt apart, so this file does not cite it either
# `docs/method.md, Phase 2` or `docs/method.md, "Figures"`, across a line break too.
CITED = re.compile(r'docs/method\.md,\s+(Phase \d|"[^"]+")')


def _tracked_text() -> dict[str, str]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    texts = {}
    for name in names:
        path = REPO / name
        if path.suffix in {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg"} or path.name in {
            "Makefile",
            "run",
        }:
            texts[name] = path.read_text(errors="replace")
    return texts


def test_no_tracked_file_cites_the_design_file_users_do_not_have() -> None:
    citing = [name for name, text in _tracked_text().items() if OUTSIDE in text]
    assert citing == []


def test_every_section_a_citation_names_is_on_the_method_page() -> None:
    page = (REPO / "docs" / "method.md").read_text()
    headings = {line.lstrip("#").strip() for line in page.splitlines() if line.startswith("#")}
    phases = set(re.findall(r"\*\*(Phase \d)", page))
    cited = {
        (name, section.strip('"'))
        for name, text in _tracked_text().items()
        for section in CITED.findall(text)
    }
    assert cited, "the code cites the page's sections"
    missing = [(n, s) for n, s in cited if s not in headings and s not in phases]
    assert missing == []


def test_the_citation_pattern_reads_a_broken_line() -> None:
    assert CITED.findall('(docs/method.md,\nPhase 3) and (docs/method.md, "Figures")') == [
        "Phase 3",
        '"Figures"',
    ]
