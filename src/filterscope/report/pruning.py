"""The prune stage's table, figures and pages: accuracy against weights kept per method, and
one site's masks side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from filterscope.report import figures
from filterscope.report.build import ReportFigure

COLUMNS = {
    "arm": "arm",
    "method": "method",
    "theta": "θ",
    "kept_fraction": "weights kept (pruned sites)",
    "pruned_acc": "test accuracy right after pruning",
    "finetuned_acc": "test accuracy after fine-tuning",
}
"""The table's fixed columns and their headers; each site adds its own kept fraction."""


def site_column(site: str) -> str:
    """The table column of a site's kept fraction."""
    return f"kept_{site}"


def table_columns(sites: Sequence[str]) -> dict[str, str]:
    """Every column of the table (key -> header): the fixed ones, then each site's."""
    return {**COLUMNS, **{site_column(s): f"kept in {s}" for s in sites}}


def label_order(clusters: Sequence[Sequence[Sequence[int]]], num_classes: int) -> np.ndarray:
    """Filters ordered by the smallest label of their clusters (filters without one last, each
    group in index order), so that an AFCC mask shows as blocks."""
    first = [min((min(c) for c in f), default=num_classes) for f in clusters]
    return np.argsort(np.asarray(first), kind="stable")


def prune_figures(
    rows: Sequence[Mapping[str, object]],
    unpruned: float,
    dense: float | None,
    shown: tuple[str, Mapping[str, np.ndarray], np.ndarray, np.ndarray] | None,
    out: Path,
) -> list[ReportFigure]:
    """The stage's figures into ``out``: accuracy against weights kept; and, with ``shown``
    (site, its masks per method, row and column order), that site's masks."""
    saved = [
        ReportFigure(
            figures.save(
                figures.accuracy_vs_kept(rows, unpruned, dense), out / "accuracy_vs_kept.png"
            ),
            "Test accuracy against the fraction of weights kept in the pruned sites: AFCC and its"
            " controls at exactly the same number of connections per site, after fine-tuning"
            " (filled) and right after pruning (hollow, dashed).",
        )
    ]
    if shown is not None:
        site, masks, order_out, order_in = shown
        saved.append(
            ReportFigure(
                figures.save(
                    figures.mask_panels(masks, order_out, order_in, site), out / f"masks_{site}.png"
                ),
                f"The masks of {site} at the first threshold: rows (outputs) and columns (input"
                " filters) ordered by the smallest label of their AFCC clusters, so AFCC keeps"
                " blocks of filters that share labels; the controls keep as many connections.",
            )
        )
    return saved
