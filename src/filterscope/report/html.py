"""The report as one self-contained HTML page (inline CSS, relative image paths, no scripts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from filterscope.report.build import TABLE_COLUMNS, Sections, format_cell

COLUMN_TITLES = {
    "layer": "layer",
    "node": "cut point",
    "filters": "filters",
    "probe_accuracy": "probe accuracy",
    "single_filter_accuracy_mean": "single-filter accuracy, mean",
    "single_filter_accuracy_std": "single-filter accuracy, std",
    "clusters_per_filter": "clusters per filter",
    "mean_cluster_size": "mean cluster size",
    "labels_in_clusters": "labels in clusters per filter",
    "noise_per_filter": "noise per filter",
    "silent_fraction": "silent fraction",
    "no_cluster_fraction": "no-cluster fraction",
    "label_coverage_cv": "label-coverage CV",
    "snr_threshold": "SNR (thresholded)",
    "snr_cluster": "SNR (clusters only)",
    "afcc_accuracy": "AFCC diluted accuracy",
    "afcc_kept_fraction": "AFCC weights kept",
}
"""Header of each column of :data:`~filterscope.report.build.TABLE_COLUMNS`."""

TABLE_NOTE = (
    "Means are over all filters of the layer (silent filters count as zero clusters), noise per"
    " filter over the non-silent ones; SNR is inf where no above-threshold cell lies off the"
    " diagonal; n/a marks an undefined value."
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 1400px; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
th { background: #f0f0f0; } td { text-align: right; font-variant-numeric: tabular-nums; }
table.summary th { text-align: left; } table.summary td { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; max-width: 640px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; margin-top: 0.3em; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }
"""


def _summary(summary: Sequence[tuple[str, object]]) -> list[str]:
    lines = ['<table class="summary">']
    lines += [
        f"<tr><th>{escape(key)}</th><td>{escape(format_cell(value))}</td></tr>"
        for key, value in summary
    ]
    return [*lines, "</table>"]


def _table(rows: Sequence[Mapping[str, object]], columns: Mapping[str, str]) -> list[str]:
    head = "".join(f"<th>{escape(title)}</th>" for title in columns.values())
    lines = ['<table class="layers">', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    lines += [
        "<tr>" + "".join(f"<td>{escape(format_cell(row[c]))}</td>" for c in columns) + "</tr>"
        for row in rows
    ]
    return [*lines, "</tbody>", "</table>"]


def _figures(sections: Sections, root: Path) -> list[str]:
    lines = []
    for heading, images in sections.items():
        lines += [f"<h2>{escape(heading)}</h2>", '<div class="figures">']
        for image in images:
            src = escape(image.path.relative_to(root).as_posix())
            caption = escape(image.caption)
            lines.append(
                f'<figure><img src="{src}" alt="{caption}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
        lines.append("</div>")
    return lines


def report_html(
    title: str,
    summary: Sequence[tuple[str, object]],
    rows: Sequence[Mapping[str, object]],
    sections: Sections,
    root: Path,
    config_yaml: str,
    table: tuple[str, Mapping[str, str], str] | None = None,
) -> str:
    """The HTML report: run summary, a table, figures with captions (image paths relative to
    ``root``, where the page will lie) and the resolved config. ``table`` is the table's heading,
    columns (key -> header) and note; by default the per-layer statistics."""
    heading, columns, note = table or (
        "Per-layer statistics",
        {c: COLUMN_TITLES[c] for c in TABLE_COLUMNS},
        TABLE_NOTE,
    )
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        "<h2>Run</h2>",
        *_summary(summary),
        f"<h2>{escape(heading)}</h2>",
        *_table(rows, columns),
        f"<p>{escape(note)}</p>",
        *_figures(sections, root),
        "<h2>Resolved config</h2>",
        f"<pre>{escape(config_yaml)}</pre>",
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"
