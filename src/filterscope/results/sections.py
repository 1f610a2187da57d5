"""The rendered tables of RESULTS.md, section by section, from the CSVs under ``docs/results/``.

A section's data are the outputs its command wrote, copied as they are: the report stage's
``plots/report_layers.csv`` (one per seed) and ``make compare``'s ``runs.csv``, ``layers.csv``
and ``mechanism.csv``. Every value a section's prose quotes is a cell here; what is derived
(means, intervals, tests of the section's claims) is derived below, by name."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from filterscope.report.stats import holm, interval, paired, welch
from filterscope.results.markdown import Column, table
from filterscope.schemas.prune import METHODS

Tables = Callable[[Path], dict[str, str]]
"""A section's tables by marker name, from the data folder ``docs/results/``."""


def acc(value: object) -> str:
    """An accuracy or fraction: three decimals."""
    return f"{float(value):.3f}"  # type: ignore[arg-type]


def sig(value: object) -> str:
    """Any other number: three significant digits."""
    return f"{float(value):.3g}"  # type: ignore[arg-type]


def pvalue(value: float) -> str:
    """A p-value: two significant digits."""
    return "n/a" if math.isnan(value) else f"{value:.2g}"


def col(heading: str, key: str, fmt: Callable[[object], str] = sig) -> Column:
    """The column ``heading`` writing ``row[key]`` with ``fmt``."""
    return Column(heading, lambda row: fmt(row[key]))


def spread(mean: str, std: str, fmt: Callable[[object], str] = sig) -> Callable[[Mapping], str]:
    """A cell ``mean ± std``: the mean written by ``fmt``, the spread to two significant digits
    (three decimals for accuracies)."""
    return lambda row: f"{fmt(row[mean])} ± {(acc if fmt is acc else _sd)(row[std])}"


def _sd(value: object) -> str:
    return f"{float(value):.2g}"  # type: ignore[arg-type]


def _diff(value: float, fmt: Callable[[object], str]) -> str:
    """A difference written as ``fmt`` writes its values, with its sign."""
    return f"{value:+.3f}" if fmt is acc else f"{value:+.3g}"


LAYER_COLUMNS = (
    col("layer", "layer", str),
    col("probe acc", "probe_accuracy", acc),
    Column(
        "single-filter acc",
        spread("single_filter_accuracy_mean", "single_filter_accuracy_std", acc),
    ),
    col("clusters/filter", "clusters_per_filter"),
    col("mean cluster size", "mean_cluster_size"),
    col("labels in clusters", "labels_in_clusters"),
    col("noise/filter", "noise_per_filter"),
    col("silent", "silent_fraction"),
    col("coverage CV", "label_coverage_cv"),
    col("SNR", "snr_threshold"),
    col("SNR clusters", "snr_cluster"),
    col("AFCC acc", "afcc_accuracy", acc),
    col("AFCC kept", "afcc_kept_fraction", acc),
)
"""The report stage's per-layer table (``report_layers.csv``) as RESULTS.md shows it."""

MECHANISM = {
    "probe_accuracy": ("probe acc", acc),
    "clusters_per_filter": ("clusters/filter", sig),
    "mean_cluster_size": ("mean cluster size", sig),
    "noise_per_filter": ("noise/filter", sig),
    "snr_threshold": ("SNR", sig),
}
"""Per-layer numbers shown as mean ± sd over seeds, with their headings and formats."""


def _backbone_row(runs: pd.DataFrame) -> dict[str, str]:
    seeds = runs.sort_values("seed")
    mean = interval(list(seeds["test_acc"]))
    row = {f"seed {s}": acc(a) for s, a in zip(seeds["seed"], seeds["test_acc"], strict=True)}
    return row | {"mean": acc(mean.mean), "95% interval": f"{acc(mean.ci_low)}-{acc(mean.ci_high)}"}


def keyed(rows: Sequence[Mapping[str, str]]) -> str:
    """A table whose columns are the first row's keys, each cell the row's text."""
    return table([Column(k, lambda r, k=k: r[k]) for k in rows[0]], rows)


def backbones(runs: pd.DataFrame) -> str:
    """The backbones' test accuracy per seed, their mean and its 95% t interval."""
    return keyed([_backbone_row(runs)])


def over_seeds(mechanism: pd.DataFrame) -> str:
    """Per layer, each :data:`MECHANISM` number's mean ± standard deviation over the seeds."""
    wide = mechanism.pivot(index="layer", columns="statistic", values=["mean", "std"])
    rows = [
        {"layer": layer} | {f"{s}_{m}": wide.loc[layer, (m, s)] for m, s in wide.columns}
        for layer in wide.index
    ]
    columns = [col("layer", "layer", str)] + [
        Column(heading, spread(f"{stat}_mean", f"{stat}_std", fmt))
        for stat, (heading, fmt) in MECHANISM.items()
    ]
    return table(columns, rows)


@dataclass(frozen=True)
class Claim:
    """A claim that a per-layer number differs between two layers: ``metric`` at layer ``a``
    minus layer ``b``, per seed, tested by the paired t-test over the seeds."""

    text: str
    metric: str
    a: int
    b: int


def claims(layers: pd.DataFrame, listed: Sequence[Claim]) -> str:
    """Each claim's per-seed differences, their mean, the paired t-test and its p, Holm-adjusted
    over the claims of the table (the section's family)."""
    rows = []
    for c in listed:
        by_layer = layers.pivot(index="seed", columns="layer", values=c.metric)
        diff = by_layer[c.a] - by_layer[c.b]
        test = paired(list(by_layer[c.a]), list(by_layer[c.b]))
        fmt = MECHANISM[c.metric][1]
        rows.append(
            {
                "claim": c.text,
                "difference": f"{MECHANISM[c.metric][0]}, layer {c.a} - {c.b}",
                "per seed": ", ".join(_diff(d, fmt) for d in diff),
                "mean": _diff(diff.mean(), fmt),
                "t": f"{test.t:.3g}",
                "p": test.p,
            }
        )
    return keyed(holm_adjusted(rows))


def holm_adjusted(rows: list[dict]) -> list[dict]:
    """``rows`` with their raw ``p`` written and its Holm adjustment over the rows beside it."""
    for row, adjusted in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row |= {"p": pvalue(row["p"]), "p (Holm)": pvalue(adjusted)}
    return rows


def depth_claims(last: int) -> tuple[Claim, ...]:
    """The papers' claims along the layers, tested from the first cut point to ``last``."""
    return (
        Claim("probe accuracy rises with depth", "probe_accuracy", last, 1),
        Claim("noise per filter falls", "noise_per_filter", last, 1),
        Claim("SNR rises", "snr_threshold", last, 1),
    )


PROFILE_CLAIMS = (
    *depth_claims(13)[:2],
    Claim("SNR rises up to layer 12", "snr_threshold", 12, 1),
    Claim("SNR falls at the last layer", "snr_threshold", 13, 12),
)
"""The claims tested on the default profile's VGG-16, on every dataset alike."""


def default_profile(root: Path, name: str) -> dict[str, str]:
    """The default profile's three seeds of the whole chain on one dataset, from the data
    folder ``name``: the backbones, seed 0's layers, the mean ± sd over seeds and
    :data:`PROFILE_CLAIMS`."""
    data = root / name
    layers = pd.read_csv(data / "layers.csv")
    return {
        f"{name}/backbones": backbones(pd.read_csv(data / "runs.csv")),
        f"{name}/layers_seed0": table(
            LAYER_COLUMNS, pd.read_csv(data / "report_layers_seed0.csv").to_dict("records")
        ),
        f"{name}/over_seeds": over_seeds(pd.read_csv(data / "mechanism.csv")),
        f"{name}/claims": claims(layers, PROFILE_CLAIMS),
    }


def cifar10_subset(root: Path) -> dict[str, str]:
    """ "CIFAR-10 subset, default profile"."""
    return default_profile(root, "cifar10_subset")


@dataclass(frozen=True)
class Network:
    """One network's three seeds on the CIFAR-10 subset: ``runs.csv``, ``layers.csv`` and
    ``mechanism.csv`` of its compare output, and seed 0's ``report_layers.csv``."""

    name: str
    runs: pd.DataFrame
    layers: pd.DataFrame
    mechanism: pd.DataFrame
    layers_seed0: pd.DataFrame

    @classmethod
    def read(cls, name: str, folder: Path) -> Network:
        """The network ``name`` from its data folder."""
        tables = ("runs", "layers", "mechanism", "report_layers_seed0")
        return cls(name, *(pd.read_csv(folder / f"{t}.csv") for t in tables))

    @property
    def last(self) -> int:
        """The deepest cut point's layer number."""
        return int(self.layers["layer"].max())

    def at(self, metric: str, layer: int) -> list[float]:
        """``metric`` at ``layer`` (``test_acc``: the backbone's), per seed in seed order."""
        table = self.runs if metric == "test_acc" else self.layers[self.layers["layer"] == layer]
        return list(table.sort_values("seed")[metric])


NUMBERS = {"test_acc": ("test acc", acc)} | MECHANISM
"""What :func:`against` compares: the backbone's test accuracy and the per-layer numbers."""
COMPARED = (
    "test_acc",
    "probe_accuracy",
    "clusters_per_filter",
    "noise_per_filter",
    "snr_threshold",
)


def against(reference: Network, others: Sequence[Network]) -> str:
    """Each network against ``reference``: the backbone's test accuracy and the numbers at each
    network's deepest cut point, per seed, Welch's t-test (different networks: unpaired) and
    its p, Holm-adjusted over the table."""
    rows = []
    for net in others:
        for metric in COMPARED:
            heading, fmt = NUMBERS[metric]
            mine, theirs = net.at(metric, net.last), reference.at(metric, reference.last)
            test = welch(mine, theirs)
            rows.append(
                {
                    "network": net.name,
                    "number": heading if metric == "test_acc" else f"{heading}, last layer",
                    "per seed": ", ".join(fmt(v) for v in mine),
                    f"{reference.name} per seed": ", ".join(fmt(v) for v in theirs),
                    "difference": _diff(float(np.mean(mine) - np.mean(theirs)), fmt),
                    "t": sig(test.t),
                    "p": test.p,
                }
            )
    return keyed(holm_adjusted(rows))


NODE_LAYER_COLUMNS = (LAYER_COLUMNS[0], col("node", "node", str), *LAYER_COLUMNS[1:])
""":data:`LAYER_COLUMNS` with each layer's cut point, for networks cut at named nodes."""
TORCHVISION = {
    "ResNet-18 x0.25": "cifar10_subset_resnet18",
    "EfficientNet-B0 x0.25": "cifar10_subset_efficientnet_b0",
}
"""The torchvision networks retrained with the VGG-16 section's recipe, by data folder."""


def cifar10_subset_torchvision(root: Path) -> dict[str, str]:
    """ "CIFAR-10 subset: ResNet-18 and EfficientNet-B0": three seeds of each, against the
    VGG-16 of "CIFAR-10 subset, default profile" (the same recipe, data and seeds)."""
    vgg = Network.read("VGG-16 x0.25", root / "cifar10_subset")
    nets = [Network.read(name, root / folder) for name, folder in TORCHVISION.items()]
    tables = {
        "cifar10_subset_torchvision/backbones": keyed(
            [{"network": n.name} | _backbone_row(n.runs) for n in [vgg, *nets]]
        ),
        "cifar10_subset_torchvision/against_vgg": against(vgg, nets),
    }
    for net, folder in zip(nets, TORCHVISION.values(), strict=True):
        tables |= {
            f"{folder}/layers_seed0": table(
                NODE_LAYER_COLUMNS, net.layers_seed0.to_dict("records")
            ),
            f"{folder}/over_seeds": over_seeds(net.mechanism),
            f"{folder}/claims": claims(net.layers, depth_claims(net.last)),
        }
    return tables


PRUNE_METHODS = {m: "AFCC" if m == "afcc" else m for m in METHODS if m != "dense"}
"""The pruned arms in the order of the pruning tables, with their headings."""
WHEN = {"pruned_acc": "right after pruning", "finetuned_acc": "after fine-tuning"}


def _signed(value: float) -> str:
    """A difference of accuracies: three decimals and its sign (none on a zero)."""
    text = f"{value:+.3f}"
    return text[1:] if float(text) == 0 else text


def _pairs_order(pairs: pd.Series) -> list[str]:
    """The ``prune.pairs`` settings, the paper's (``deepest``) first."""
    return sorted(set(pairs), key=lambda p: (p != "deepest", p))


def pruning_means(arms: pd.DataFrame) -> str:
    """Per ``prune.pairs`` and theta, each arm's test accuracy right after pruning and after
    fine-tuning, and the dense control's after fine-tuning: means over the seeds
    (``pruning_runs.csv``)."""
    means = arms.groupby(["prune.pairs", "method", "theta"], dropna=False).mean(numeric_only=True)
    rows = []
    for pairs in _pairs_order(arms["prune.pairs"]):
        dense = means.loc[(pairs, "dense")]["finetuned_acc"].iloc[0]
        for theta in sorted(arms.loc[arms["theta"].notna(), "theta"].unique()):
            row = {"pairs": pairs, "theta": f"{theta:g}", "dense": acc(dense)}
            row["kept"] = acc(means.loc[(pairs, "afcc", theta), "kept_fraction"])
            for number in WHEN:
                for method in PRUNE_METHODS:
                    row[f"{method}_{number}"] = acc(means.loc[(pairs, method, theta), number])
            rows.append(row)
    columns = [col("pairs", "pairs", str), col("theta", "theta", str)]
    columns.append(col("weights kept", "kept", str))
    for number, when in WHEN.items():
        for method, heading in PRUNE_METHODS.items():
            shown = f"{heading}, {when}" if method == "afcc" else heading
            columns.append(col(shown, f"{method}_{number}", str))
    return table([*columns, col("dense, fine-tuned", "dense", str)], rows)


def pruning_tests(arms: pd.DataFrame, tests: pd.DataFrame) -> str:
    """AFCC minus each control on the same backbones, per seed (``pruning_runs.csv``), with the
    paired t-test and its Holm-adjusted p over the sweep's comparisons (``pruning_tests.csv``,
    as ``make compare`` wrote them); refuses data where the two disagree."""
    by_seed = arms[arms["theta"].notna()].pivot_table(
        index=["prune.pairs", "theta", "seed"], columns="method", values=list(WHEN)
    )
    rows = []
    for pairs in _pairs_order(tests["prune.pairs"]):
        mine = tests[tests["prune.pairs"] == pairs]
        for number, when in WHEN.items():
            for _, t in mine[mine["number"] == number].sort_values(["theta", "control"]).iterrows():
                seeds = by_seed.loc[(pairs, t["theta"])]
                diff = seeds[(number, "afcc")] - seeds[(number, t["control"])]
                if not math.isclose(diff.mean(), t["diff"], abs_tol=1e-9):
                    raise ValueError(f"pruning_tests.csv disagrees with pruning_runs.csv: {t}")
                rows.append(
                    {
                        "pairs": pairs,
                        "theta": f"{t['theta']:g}",
                        "when": when,
                        "control": t["control"],
                        "per seed": ", ".join(_signed(d) for d in diff),
                        "mean": _signed(t["diff"]),
                        "t": sig(t["t"]),
                        "p": pvalue(t["p"]),
                        "p (Holm)": pvalue(t["p_holm"]),
                    }
                )
    return keyed(rows)


def prune_cifar10_subset(root: Path) -> dict[str, str]:
    """ "AFCC pruning": the prune stage on three seeds of the CIFAR-10 subset's default chain,
    the deepest pair and every pair."""
    data = root / "prune_cifar10_subset"
    runs = pd.read_csv(data / "runs.csv")
    arms = pd.read_csv(data / "pruning_runs.csv")
    return {
        "prune_cifar10_subset/backbones": backbones(runs[runs["prune.pairs"] == "deepest"]),
        "prune_cifar10_subset/means": pruning_means(arms),
        "prune_cifar10_subset/tests": pruning_tests(arms, pd.read_csv(data / "pruning_tests.csv")),
    }


SECTIONS: dict[str, Tables] = {
    "CIFAR-10 subset, default profile": cifar10_subset,
    "CIFAR-10 subset: ResNet-18 and EfficientNet-B0 (torchvision), default analysis": (
        cifar10_subset_torchvision
    ),
    "AFCC pruning (the prune stage): the CIFAR-10 subset (three seeds) and Fashion-MNIST": (
        prune_cifar10_subset
    ),
}
"""The rendered sections of the CIFAR-10 subset by heading."""
