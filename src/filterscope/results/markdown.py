"""RESULTS.md as text: rendered tables between markers, sections, and the numbers of prose."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

# A rendered table: `<!-- results: NAME -->`, the table, `<!-- /results -->`.
BLOCK = re.compile(
    r"(<!-- results: (?P<name>[\w/.-]+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S
)
# A measured number: digits with a decimal point (integers are counts, layers, seeds, dates).
NUMBER = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.]*\d)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
LINK_TARGET = re.compile(r"\]\([^)]*\)")
COMMENT = re.compile(r"<!--.*?-->", re.S)


@dataclass(frozen=True)
class Column:
    """A table column: its heading and how a row's value is written."""

    heading: str
    cell: Callable[[Mapping[str, object]], str]


def table(columns: Sequence[Column], rows: Sequence[Mapping[str, object]]) -> str:
    """A Markdown table of ``rows``, one line per row, cells written by the ``columns``."""
    lines = ["| " + " | ".join(c.heading for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(c.cell(row) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def block_names(text: str) -> list[str]:
    """The names of the rendered tables in ``text``, in order."""
    return [m["name"] for m in BLOCK.finditer(text)]


def render(text: str, tables: Mapping[str, str]) -> str:
    """``text`` with each marked table replaced by ``tables[name]``; a KeyError names a marker
    that no table renders."""
    return BLOCK.sub(lambda m: m.group(1) + tables[m["name"]] + m.group(4), text)


def sections(text: str) -> dict[str, str]:
    """Each ``## `` section's text (its subsections included) under its heading."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {heading.strip(): body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def prose(section: str) -> str:
    """A section's prose: without its tables, code, comments and link targets."""
    text = FENCE.sub("", COMMENT.sub("", section))
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("|")]
    return LINK_TARGET.sub("]", CODE.sub("", "\n".join(lines)))


def table_numbers(section: str) -> set[str]:
    """Every number written in a cell of the section's tables."""
    cells = (line for line in section.splitlines() if line.lstrip().startswith("|"))
    return {n for line in cells for n in NUMBER.findall(line)}


def unbacked_numbers(section: str) -> list[str]:
    """The numbers of a section's prose that no cell of its tables holds, in order."""
    held = table_numbers(section)
    return [n for n in NUMBER.findall(prose(section)) if n not in held]
