"""The prune stage's table, figures and pages: accuracy against weights kept per method, and
one site's masks side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

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


PRUNING_STYLE = {
    "afcc": ("tab:blue", "o"),
    "random": ("tab:orange", "s"),
    "magnitude": ("tab:green", "^"),
}
"""Colour and marker of each pruning method drawn against the weights kept."""


def accuracy_vs_kept(
    rows: Sequence[Mapping[str, object]], unpruned: float, dense: float | None
) -> Figure:
    """Test accuracy against the fraction of weights kept in the pruned sites: per method a line
    over the thresholds after fine-tuning (filled) and right after pruning (hollow, dashed); the
    unpruned network, and the same fine-tuning without pruning, as horizontal lines."""
    fig, ax = figures.titled_axes(
        "Pruning: accuracy against weights kept",
        "fraction of weights kept",
        "test accuracy",
        (6.5, 4.2),
    )
    for method, (colour, marker) in PRUNING_STYLE.items():
        picked = sorted(
            (r for r in rows if r["method"] == method), key=lambda r: float(r["kept_fraction"])
        )
        if not picked:
            continue
        x = [float(r["kept_fraction"]) for r in picked]
        ax.plot(
            x,
            [float(r["finetuned_acc"]) for r in picked],
            marker=marker,
            color=colour,
            label=f"{method}, fine-tuned",
        )
        ax.plot(
            x,
            [float(r["pruned_acc"]) for r in picked],
            marker=marker,
            color=colour,
            linestyle="--",
            markerfacecolor="none",
            label=f"{method}, right after pruning",
        )
        if method == "afcc":
            for r, xi in zip(picked, x, strict=True):
                ax.annotate(
                    f"θ={float(r['theta']):g}",
                    (xi, float(r["finetuned_acc"])),
                    xytext=(4, 4),
                    textcoords="offset points",
                    fontsize="x-small",
                )
    ax.axhline(unpruned, color="black", linewidth=1, label="unpruned")
    if dense is not None:
        ax.axhline(dense, color="gray", linestyle=":", label="unpruned, fine-tuned alike")
    ax.set_xlim(0, 1.02)
    # Room above the highest line, which would otherwise lie on the frame.
    ax.set_ylim(top=min(1.0, max(ax.get_ylim()[1], unpruned, dense or 0.0)) + 0.02)
    figures.outside_legend(ax)
    return fig


def mask_panels(
    masks: Mapping[str, np.ndarray], rows: np.ndarray, cols: np.ndarray, site: str
) -> Figure:
    """One site's masks side by side, one panel per method (kept connections dark), rows and
    columns in the given orders."""
    fig, axes = figures.plt.subplots(
        1, len(masks), figsize=(3.6 * len(masks), 3.8), squeeze=False, constrained_layout=True
    )
    for ax, (method, mask) in zip(axes[0], masks.items(), strict=True):
        shown = np.asarray(mask, dtype=bool)[np.ix_(rows, cols)]
        ax.imshow(shown, cmap="Greys", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
        ax.set_title(f"{method}: {int(shown.sum())} of {shown.size} kept", fontsize="small")
        ax.set_xlabel("input filter (by cluster label)")
    axes[0][0].set_ylabel("output (by cluster label)")
    fig.suptitle(f"{site}: connections kept")
    return fig


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
            figures.save(accuracy_vs_kept(rows, unpruned, dense), out / "accuracy_vs_kept.png"),
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
                    mask_panels(masks, order_out, order_in, site), out / f"masks_{site}.png"
                ),
                f"The masks of {site} at the first threshold: rows (outputs) and columns (input"
                " filters) ordered by the smallest label of their AFCC clusters, so AFCC keeps"
                " blocks of filters that share labels; the controls keep as many connections.",
            )
        )
    return saved
