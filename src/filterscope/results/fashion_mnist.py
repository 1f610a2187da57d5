"""RESULTS.md's "Fashion-MNIST (complete), default VGG-16 profile": the default profile's three
seeds of the whole chain (``docs/results/fashion_mnist/``, as :func:`default_profile` renders
every dataset's), and the recipe variants tried on it (``recipe_runs.csv``: each run's test
accuracy as its train stage logged it, one row per run; those runs' outputs were not kept)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from filterscope.report.stats import interval
from filterscope.results.mnist import acc4
from filterscope.results.sections import Tables, default_profile, keyed

FOLDER = "fashion_mnist"
RERUN = "the default, rerun (the tables above)"
"""The variants table's row of this section's own three seeds (``runs.csv``)."""
RERUN_DAY = "2026-12-07"
"""The day this section's chains ran (``runs.csv`` holds no dates)."""


def _variant_row(variant: str, overrides: str, runs: pd.DataFrame) -> dict[str, str]:
    """One variant's runs: their days, seeds, test accuracy as logged, and over two seeds or more
    the mean and its 95% t interval."""
    runs = runs.sort_values("seed")
    mean = interval([float(a) for a in runs["test_acc"]])
    return {
        "variant": variant,
        "overrides": f"`{overrides}`" if overrides else "",
        "run on": ", ".join(sorted(set(runs["date"]))),
        "seeds": ", ".join(str(s) for s in runs["seed"]),
        "test acc per seed": ", ".join(runs["test_acc"]),
        "mean": "" if mean.n < 2 else acc4(mean.mean),
        "95% interval": "" if mean.n < 2 else f"{acc4(mean.ci_low)}-{acc4(mean.ci_high)}",
    }


def variants(recipe_runs: pd.DataFrame, rerun: pd.DataFrame, day: str) -> str:
    """Per recipe variant, in the order of ``recipe_runs``, its runs' test accuracy, their mean
    and its 95% t interval; the default's rerun of ``day`` (``runs.csv``) beside the default."""
    rows = [
        _variant_row(variant, overrides, runs)
        for (variant, overrides), runs in recipe_runs.fillna("").groupby(
            ["variant", "overrides"], sort=False
        )
    ]
    own = rerun.assign(date=day, test_acc=[acc4(a) for a in rerun["test_acc"]])
    at = next(i for i, row in enumerate(rows) if row["variant"] == "the default") + 1
    rows.insert(at, _variant_row(RERUN, "", own))
    return keyed(rows)


def fashion_mnist(root: Path) -> dict[str, str]:
    """The section's tables: :func:`default_profile`'s and the recipe variants'."""
    data = root / FOLDER
    recipe = pd.read_csv(data / "recipe_runs.csv", dtype={"test_acc": str, "overrides": str})
    runs = pd.read_csv(data / "runs.csv")
    return default_profile(root, FOLDER) | {
        f"{FOLDER}/variants": variants(recipe, runs, RERUN_DAY),
    }


SECTIONS: dict[str, Tables] = {"Fashion-MNIST (complete), default VGG-16 profile": fashion_mnist}
"""The rendered Fashion-MNIST section by heading."""
