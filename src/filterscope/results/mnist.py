"""RESULTS.md's MNIST sections: the tutorial ConvNet's three sweeps as whole chains
(``make mechanism``, then ``make compare LAST=3``), each sweep's compare output copied to
``docs/results/mnist_mechanism/<sweep>/``. The training study reads its ``runs.csv``,
``settings.csv`` and ``tests.csv``; the mechanism section its ``mechanism.csv`` and
``layers.csv``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from filterscope.report.stats import welch
from filterscope.results.sections import (
    MECHANISM,
    Tables,
    holm_adjusted,
    keyed,
    pvalue,
    sig,
)

SWEEPS = {"lr": "train.lr", "dropout": "model.dropout", "kernel_size": "model.kernel_size"}
"""The study's sweeps by data folder, with the parameter each one sweeps."""
COMPARED = {"lr": ("0.001", "0.01"), "dropout": ("0", "0.75"), "kernel_size": ("3", "9")}
"""Per sweep, the two settings whose mechanisms the section tests against each other."""


def sig3(value: object) -> str:
    """Three significant digits, trailing zeros kept (``3.30``, ``15.0``)."""
    return f"{float(value):#.3g}"  # type: ignore[arg-type]


NUMBERS = {
    key: (heading, fmt if key == "probe_accuracy" else sig3)
    for key, (heading, fmt) in (MECHANISM | {"snr_cluster": ("SNR clusters", sig)}).items()
}
"""The mechanism's numbers of the one conv layer, with their headings and formats."""


def acc4(value: object) -> str:
    """An MNIST accuracy, whose settings differ in the third decimal: four decimals."""
    return f"{float(value):.4f}"  # type: ignore[arg-type]


def setting(value: object) -> str:
    """A swept value as a person writes it (``0.00001``, ``0``, ``0.25``, ``7``)."""
    return np.format_float_positional(float(value), trim="-")  # type: ignore[arg-type]


def _signed(value: float) -> str:
    return f"{value:+.4f}"


@dataclass(frozen=True)
class Sweep:
    """One sweep's compare output, its swept column written by :func:`setting`."""

    param: str
    runs: pd.DataFrame
    layers: pd.DataFrame
    settings: pd.DataFrame
    mechanism: pd.DataFrame

    @classmethod
    def read(cls, folder: Path, param: str) -> Sweep:
        """The sweep of ``param`` in ``folder``."""
        frames = [pd.read_csv(folder / f"{t}.csv") for t in ("runs", "layers", "settings")]
        frames.append(pd.read_csv(folder / "mechanism.csv"))
        for frame in frames:
            frame[param] = frame[param].map(setting)
        return cls(param, *frames)

    @property
    def values(self) -> list[str]:
        """The swept settings, smallest first."""
        return sorted(set(self.settings[self.param]), key=float)

    def of(self, frame: pd.DataFrame, value: str) -> pd.DataFrame:
        """The rows of ``frame`` at the setting ``value``, in seed order where there are seeds."""
        rows = frame[frame[self.param] == value]
        return rows.sort_values("seed") if "seed" in rows else rows

    def per_seed(self, value: str, key: str, fmt: Callable[[object], str]) -> str:
        """``runs.csv``'s ``key`` at ``value``, seed by seed."""
        return ", ".join(fmt(v) for v in self.of(self.runs, value)[key])


def _lowest_at(rises_at: object) -> str:
    """The epoch of the lowest validation loss (the one before it rises; ``last`` if it never
    rises)."""
    return "last" if pd.isna(rises_at) else str(int(rises_at) - 1)  # type: ignore[call-overload]


def training(sweep: Sweep) -> str:
    """Per setting: the test accuracy's mean, sd and 95% t interval over the seeds and per seed,
    where the validation loss is lowest, the validation loss after the first epoch, at its
    lowest and after the last (means over the seeds), the last epoch's training minus
    validation accuracy per seed, and the seconds per epoch (mean)."""
    rows = []
    for value in sweep.values:
        mean = sweep.of(sweep.settings, value).iloc[0]
        runs = sweep.of(sweep.runs, value)
        rows.append(
            {
                sweep.param.split(".")[-1]: value,
                "test acc (mean)": acc4(mean["mean"]),
                "sd": acc4(mean["std"]),
                "95% interval": f"{acc4(mean['ci_low'])} - {acc4(mean['ci_high'])}",
                "per seed": sweep.per_seed(value, "test_acc", acc4),
                "val loss lowest at epoch": ", ".join(map(_lowest_at, runs["val_loss_rises_at"])),
                "val loss: epoch 1, lowest, last": ", ".join(
                    f"{runs[k].mean():.3f}"
                    for k in ("val_loss_first", "val_loss_min", "val_loss_final")
                ),
                "train - val acc, last epoch": sweep.per_seed(value, "train_val_gap", _signed),
                "s/epoch": f"{runs['seconds_per_epoch'].mean():.1f}",
            }
        )
    return keyed(rows)


def pairs(folder: Path, param: str) -> str:
    """``make compare``'s tests of the test accuracy between every two settings: the difference
    of the means, Welch's p and its Holm adjustment over the sweep's pairs (``tests.csv``)."""
    tests = pd.read_csv(folder / "tests.csv")
    rows = [
        {
            "a": setting(t["a"].removeprefix(f"{param}=")),
            "b": setting(t["b"].removeprefix(f"{param}=")),
            "test acc, a - b": _signed(t["diff"]),
            "p": pvalue(t["p"]),
            "p (Holm)": pvalue(t["p_holm"]),
        }
        for _, t in tests.iterrows()
    ]
    return keyed(rows)


def steps(sweep: Sweep, key: str, heading: str) -> str:
    """``runs.csv``'s ``key`` between each two neighbouring settings: the difference of the
    means, Welch's test over the seeds and its p, Holm-adjusted over the steps."""
    rows = []
    values = sweep.values
    for low, high in zip(values, values[1:], strict=False):
        a, b = (list(sweep.of(sweep.runs, v)[key]) for v in (high, low))
        test = welch(a, b)
        rows.append(
            {
                "step": f"{low} to {high}",
                f"{heading}, change": _signed(float(np.mean(a) - np.mean(b))),
                "t": sig(test.t),
                "p": test.p,
            }
        )
    return keyed(holm_adjusted(rows))


def mechanism(sweep: Sweep, compared: tuple[str, str]) -> str:
    """Per setting the test accuracy (mean over the seeds) and each of :data:`NUMBERS` as its
    mean and 95% t interval; then Welch's p of the two ``compared`` settings, raw and
    Holm-adjusted over the row."""
    name = sweep.param.split(".")[-1]
    rows = []
    for value in sweep.values:
        stats = sweep.of(sweep.mechanism, value).set_index("statistic")
        row = {name: value, "test acc": acc4(sweep.of(sweep.settings, value)["mean"].iloc[0])}
        for key, (heading, fmt) in NUMBERS.items():
            s = stats.loc[key]
            row[heading] = f"{fmt(s['mean'])} ({fmt(s['ci_low'])} to {fmt(s['ci_high'])})"
        rows.append(row)
    a, b = compared
    raw = [welch(*(list(sweep.of(sweep.runs, v)["test_acc"]) for v in compared)).p]
    raw += [welch(*(list(sweep.of(sweep.layers, v)[key]) for v in compared)).p for key in NUMBERS]
    tested = holm_adjusted([{"p": p} for p in raw])
    headings = list(rows[0])[1:]
    for label, key in ((f"p, {a} vs {b}", "p"), (f"p (Holm), {a} vs {b}", "p (Holm)")):
        rows.append({name: label} | {h: t[key] for h, t in zip(headings, tested, strict=True)})
    return keyed(rows)


def mnist_study(root: Path) -> dict[str, str]:
    """ "The MNIST tutorial study": the test accuracy of each sweep's settings and their tests;
    for dropout, how the train - val gap changes step by step."""
    tables = {}
    sweeps = {}
    for name, param in SWEEPS.items():
        folder = root / "mnist_mechanism" / name
        sweeps[name] = Sweep.read(folder, param)
        tables[f"mnist_study/{name}"] = training(sweeps[name])
        tables[f"mnist_study/{name}/pairs"] = pairs(folder, param)
    tables["mnist_study/dropout/gap"] = steps(sweeps["dropout"], "train_val_gap", "train - val acc")
    return tables


def mnist_mechanism(root: Path) -> dict[str, str]:
    """ "The mechanism across hyper-parameters: the MNIST tutorial ConvNet": per sweep, the
    mechanism of each setting and the test of :data:`COMPARED`'s two."""
    return {
        f"mnist_mechanism/{name}": mechanism(
            Sweep.read(root / "mnist_mechanism" / name, param), COMPARED[name]
        )
        for name, param in SWEEPS.items()
    }


SECTIONS: dict[str, Tables] = {
    "The MNIST tutorial study, three seeds per setting": mnist_study,
    "The mechanism across hyper-parameters: the MNIST tutorial ConvNet, three seeds": (
        mnist_mechanism
    ),
}
"""The rendered MNIST sections by heading."""
