"""RESULTS.md's "Transformers on the CIFAR-10 subset": timm's ViT and filterscope's CCT under
``experiment=transformer``, the whole chain per network (``make compare``'s ``runs.csv`` and each
network's report ``report_layers.csv``, copied to ``docs/results/transformers_cifar10_subset/``
as ``<model>_report_layers.csv``; then the same backbones' probe, extract and report stages
rerun with ``probe.cuts=heads``, as ``<model>_heads_report_layers.csv``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from filterscope.results.markdown import table
from filterscope.results.mnist import acc4
from filterscope.results.sections import NODE_LAYER_COLUMNS, Tables, keyed

FOLDER = "transformers_cifar10_subset"
NETWORKS = {"vit": "ViT", "cct": "CCT"}
"""The networks of the section by ``model.name``, with their names in the text."""


def transformers(root: Path) -> dict[str, str]:
    """The backbones' test accuracy and seconds per epoch (side by side, so comparable with
    each other only), and each network's per-block tables: its nodes, then its heads."""
    data = root / FOLDER
    runs = pd.read_csv(data / "runs.csv").set_index("model.name")
    rows = [
        {
            "network": shown,
            "test acc": acc4(runs.loc[name, "test_acc"]),
            "best val acc": acc4(runs.loc[name, "best_val_acc"]),
            "s/epoch": f"{runs.loc[name, 'seconds_per_epoch']:.1f}",
        }
        for name, shown in NETWORKS.items()
    ]
    tables = {f"{FOLDER}/backbones": keyed(rows)}
    for name in NETWORKS:
        for units in ("", "heads_"):
            layers = pd.read_csv(data / f"{name}_{units}report_layers.csv")
            shown = table(NODE_LAYER_COLUMNS, layers.to_dict("records"))
            tables[f"{FOLDER}/{name}{'/heads' if units else ''}"] = shown
    return tables


SECTIONS: dict[str, Tables] = {"Transformers on the CIFAR-10 subset": transformers}
"""The rendered transformer section by heading."""
