"""The HTML report built from synthetic layer statistics: table, figures, escaped config."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from filterscope.analysis import analyse_layer
from filterscope.report.build import (
    TABLE_COLUMNS,
    Afcc,
    filter_figures,
    layer_figures,
    markdown,
    table_rows,
)
from filterscope.report.html import COLUMN_TITLES, report_html

CLASSES = ["cat", "dog", "ship", "frog"]
CONFIG = "data:\n  name: <script>alert('x')</script> & co\n"


class Page(HTMLParser):
    """The parts of the page the tests read: table cells by table class, images, <pre> text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[dict[str, str | None]] = []
        self.pre = ""
        self._table = ""
        self._cell: list[str] | None = None
        self._in_pre = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs)["class"] or ""
            self.tables[self._table] = []
        elif tag == "tr":
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs))
        elif tag == "pre":
            self._in_pre = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "pre":
            self._in_pre = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_pre:
            self.pre += data


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Layer 1: a diagonal filter, one with a noisy 2-cluster and a silent one; layer 3: two
    diagonal filters (no noise at all, so SNR inf)."""
    root = tmp_path_factory.mktemp("report")
    noisy = np.eye(4)
    noisy[0, 1] = noisy[1, 0] = 1.0
    noisy[3, 0] = 0.5
    layers = {
        1: np.stack([np.eye(4), noisy, -np.ones((4, 4))]),
        3: np.stack([np.eye(4), 2 * np.eye(4)]),
    }
    probe_accuracy = {1: 0.8125, 3: 0.9}
    analysed = {
        layer: analyse_layer(layer, m, np.full(len(m), 0.25), probe_accuracy[layer])
        for layer, m in layers.items()
    }
    stats = [s for s, _ in analysed.values()]
    afcc = {1: Afcc(0.75, 0.5), 3: Afcc(0.875, 0.25)}
    nodes = {1: "blocks.0", 3: "blocks.2"}
    sections = {"Per-layer figures": layer_figures(stats, afcc, CLASSES, root / "figures", nodes)}
    for layer, (_, analyses) in analysed.items():
        sections[f"Layer {layer}"] = filter_figures(
            layer, layers[layer], analyses, CLASSES, 0.3, root / "figures"
        )
    summary = [("dataset", "cifar10"), ("backbone test accuracy", None), ("θ", 0.3)]
    rows = table_rows(stats, afcc, nodes)
    text = report_html("report <&>", summary, rows, sections, root, CONFIG)
    return root, text


def test_every_column_has_a_title() -> None:
    assert list(COLUMN_TITLES) == list(TABLE_COLUMNS)


def test_one_table_row_per_layer_with_its_numbers(built: tuple[Path, str]) -> None:
    page = Page(built[1])
    header, *rows = page.tables["layers"]
    assert header == [COLUMN_TITLES[c] for c in TABLE_COLUMNS]
    assert len(rows) == 2
    cells = [dict(zip(TABLE_COLUMNS, row, strict=True)) for row in rows]
    assert [c["layer"] for c in cells] == ["1", "3"]
    assert [c["filters"] for c in cells] == ["3", "2"]
    assert [c["probe_accuracy"] for c in cells] == ["0.812", "0.9"]
    assert [c["afcc_accuracy"] for c in cells] == ["0.75", "0.875"]
    assert [c["afcc_kept_fraction"] for c in cells] == ["0.5", "0.25"]
    assert [c["silent_fraction"] for c in cells] == ["0.333", "0"]
    assert cells[1]["snr_threshold"] == "inf" and cells[1]["snr_cluster"] == "inf"
    assert cells[0]["snr_threshold"] not in ("inf", "n/a")
    assert cells[1]["noise_per_filter"] == "0"


def test_run_summary(built: tuple[Path, str]) -> None:
    assert Page(built[1]).tables["summary"] == [
        ["dataset", "cifar10"],
        ["backbone test accuracy", "n/a"],
        ["θ", "0.3"],
    ]


def test_every_image_exists_beside_the_page(built: tuple[Path, str]) -> None:
    root, text = built
    images = Page(text).images
    on_disk = sorted(p.relative_to(root).as_posix() for p in (root / "figures").glob("*.png"))
    assert sorted(str(img["src"]) for img in images) == on_disk
    assert (
        "figures/afcc.png" in on_disk and len(on_disk) == 7 + 2 * 2 * 3
    )  # 2 chosen filters per layer
    for img in images:
        assert str(img["src"]).startswith("figures/") and (root / str(img["src"])).is_file()
        assert img["alt"]
    assert text.count("<figcaption>") == len(images)


def test_text_is_escaped(built: tuple[Path, str]) -> None:
    text = built[1]
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "<title>report &lt;&amp;&gt;</title>" in text
    assert Page(text).pre == CONFIG


def test_the_markdown_report_opens_with_the_run_summary(tmp_path: Path) -> None:
    summary = [("model", "vit"), ("left out", "pairs: not a conv pair"), ("accuracy", 0.93961)]
    text = markdown("T", [{"arm": "afcc"}], {}, tmp_path, ["arm"], summary)
    assert text.splitlines()[:7] == [
        "# T",
        "",
        "- model: vit",
        "- left out: pairs: not a conv pair",
        "- accuracy: 0.94",
        "",
        "| arm |",
    ]
    assert markdown("T", [], {}, tmp_path, ["arm"]).splitlines()[:3] == ["# T", "", "| arm |"]
