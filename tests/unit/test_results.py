"""RESULTS.md from committed data: tables rendered between markers, claims tested, and no
prose number that its section's tables do not hold (``python -m filterscope.results``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from filterscope.results.__main__ import SECTIONS, main
from filterscope.results.fashion_mnist import RERUN, variants
from filterscope.results.labels import by_k, last_layer, per_subset, slopes
from filterscope.results.markdown import (
    NUMBER,
    Column,
    block_names,
    render,
    sections,
    table,
    unbacked_numbers,
)
from filterscope.results.mnist import Sweep, setting, steps
from filterscope.results.sections import (
    Claim,
    Network,
    against,
    claims,
    prune_cifar10_subset,
)
from filterscope.results.vgg_mechanism import at_layer

DOC = """# Results

## One

Accuracy 0.50, then 0.25 (`train.lr=0.7`, [link](a/0.9.png)), version 3.17.2, day 2026-12-07.

<!-- results: one/t -->
| a | b |
|---|---|
| 0.50 | 1.5 ± 0.2 |
<!-- /results -->

## Two

Nothing but 0.1.
"""


def test_a_table_is_written_cell_by_cell() -> None:
    columns = [Column("x", lambda r: str(r["x"])), Column("twice", lambda r: f"{2 * r['x']:.1f}")]
    assert (
        table(columns, [{"x": 1}, {"x": 2}])
        == "| x | twice |\n|---|---|\n| 1 | 2.0 |\n| 2 | 4.0 |\n"
    )


def test_render_replaces_each_marked_table_and_nothing_else() -> None:
    assert block_names(DOC) == ["one/t"]
    new = render(DOC, {"one/t": "| a |\n|---|\n| 7.0 |\n"})
    assert "| 7.0 |" in new and "| 0.50 | 1.5" not in new
    assert new.replace("| a |\n|---|\n| 7.0 |\n", "") == DOC.replace(
        "| a | b |\n|---|---|\n| 0.50 | 1.5 ± 0.2 |\n", ""
    )
    with pytest.raises(KeyError, match="one/t"):
        render(DOC, {})


def test_prose_numbers_outside_code_links_and_tables_must_be_table_cells() -> None:
    parts = sections(DOC)
    assert list(parts) == ["One", "Two"]
    # 0.50 is a cell; 0.25 is not; code, link targets, versions and dates are not prose numbers
    assert unbacked_numbers(parts["One"]) == ["0.25"]
    assert unbacked_numbers(parts["Two"]) == ["0.1"]
    assert NUMBER.findall("1.51x, +0.004, 3.9-4.7, 2.5e-4, v3.17.2") == [
        "1.51",
        "0.004",
        "3.9",
        "4.7",
        "2.5",
    ]


def test_a_claim_is_the_paired_test_of_two_layers_over_seeds_holm_adjusted() -> None:
    # layer 2 - layer 1 per seed: 1, 2, 3 -> mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.46, df 2,
    # two-sided p = 0.0742; layer 1 - layer 2 gives the same p; Holm over two: 2 x 0.0742
    layers = pd.DataFrame(
        {"seed": [0, 0, 1, 1, 2, 2], "layer": [1, 2] * 3, "snr_threshold": [1, 2, 1, 3, 1, 4]}
    )
    rendered = claims(
        layers, [Claim("rises", "snr_threshold", 2, 1), Claim("falls", "snr_threshold", 1, 2)]
    )
    rows = [line.split(" | ") for line in rendered.splitlines()[2:]]
    assert rows[0][1:] == ["SNR, layer 2 - 1", "+1, +2, +3", "+2", "3.46", "0.074", "0.15 |"]
    assert rows[1][2:] == ["-1, -2, -3", "-2", "-3.46", "0.074", "0.15 |"]


def _network(name: str, test_acc: list[float], snr: list[float], last: int) -> Network:
    seeds = [2, 0, 1]  # as compare writes them: not in seed order
    layers = pd.DataFrame({"seed": seeds * 2, "layer": [1] * 3 + [last] * 3})
    for metric in ("probe_accuracy", "clusters_per_filter", "noise_per_filter"):
        layers[metric] = 1.0
    layers["snr_threshold"] = [0.0] * 3 + snr
    runs = pd.DataFrame({"seed": seeds, "test_acc": test_acc})
    return Network(name, runs, layers, pd.DataFrame(), pd.DataFrame())


def test_a_network_is_compared_at_its_own_deepest_cut_point_by_welch_holm_adjusted() -> None:
    # SNR at layer 8 (seeds 0, 1, 2: 1, 2, 3) against the reference's layer 13 (4, 5, 6):
    # Welch t = -3 / sqrt(1/3 + 1/3) = -3.67, df 4, p 0.0213; test acc 0.5-0.7 against
    # 0.4-0.6: t 1.22, p 0.288; the rows without spread give no test (n/a), so Holm's family is
    # the two tested rows: 0.0213 x 2 = 0.043 and 0.288 x 1
    reference = _network("VGG", [0.6, 0.4, 0.5], [6.0, 4.0, 5.0], 13)
    net = _network("Net", [0.7, 0.5, 0.6], [3.0, 1.0, 2.0], 8)
    rows = [line.split(" | ") for line in against(reference, [net]).splitlines()]
    assert rows[0][1:4] == ["number", "per seed", "VGG per seed"]
    test_acc, snr = rows[2], rows[6]
    assert test_acc[1:] == [
        "test acc",
        "0.500, 0.600, 0.700",
        "0.400, 0.500, 0.600",
        "+0.100",
        "1.22",
        "0.29",
        "0.29 |",
    ]
    assert snr[1:] == ["SNR, last layer", "1, 2, 3", "4, 5, 6", "-3", "-3.67", "0.021", "0.043 |"]
    assert rows[3][-2:] == ["n/a", "n/a |"]


def test_results_md_is_what_its_data_render_and_its_prose_quotes_its_tables(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo_root)
    text = (repo_root / "RESULTS.md").read_text()
    assert set(SECTIONS) <= set(sections(text))
    assert main(["--check"]) == 0


def test_the_check_fails_on_a_changed_cell_or_an_unbacked_number(
    repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "results"
    shutil.copytree(repo_root / "docs" / "results", data, ignore=shutil.ignore_patterns("*.png"))
    results = tmp_path / "RESULTS.md"
    text = (repo_root / "RESULTS.md").read_text()
    mechanism = data / "cifar10_subset" / "mechanism.csv"
    table_ = pd.read_csv(mechanism)
    layer_12_snr = (table_["layer"] == 12) & (table_["statistic"] == "snr_threshold")
    table_.loc[layer_12_snr, "mean"] = 5.0
    table_.to_csv(mechanism, index=False)
    results.write_text(text)
    assert main(["--check", str(results), "--data", str(data)]) == 1
    assert "differs from what" in capsys.readouterr().err
    assert main([str(results), "--data", str(data)]) == 1  # renders, then flags the stale prose
    assert "| 4.13 ± 0.19 |" not in results.read_text() and "| 5 ± 0.19 |" in results.read_text()
    assert "prose numbers its tables do not hold: 4.13" in capsys.readouterr().err


def test_pruning_tests_that_disagree_with_the_per_seed_arms_are_refused(
    repo_root: Path, tmp_path: Path
) -> None:
    data = tmp_path / "results"
    shutil.copytree(repo_root / "docs" / "results", data, ignore=shutil.ignore_patterns("*.png"))
    tests_csv = data / "prune_cifar10_subset" / "pruning_tests.csv"
    tests = pd.read_csv(tests_csv)
    tests.loc[0, "diff"] += 0.01  # a compare output edited by hand, or of another sweep
    tests.to_csv(tests_csv, index=False)
    with pytest.raises(ValueError, match="disagrees with pruning_runs.csv"):
        prune_cifar10_subset(data)


def test_mnist_steps_and_settings_by_hand() -> None:
    runs = pd.DataFrame(
        {
            "model.dropout": ["0", "0", "0", "0.5", "0.5", "0.5"],
            "seed": [0, 1, 2, 2, 1, 0],
            "train_val_gap": [0.03, 0.02, 0.01, -0.01, 0.0, 0.01],
        }
    )
    settings = pd.DataFrame({"model.dropout": ["0.5", "0"]})
    sweep = Sweep("model.dropout", runs, runs, settings, runs)
    assert sweep.values == ["0", "0.5"]
    assert sweep.per_seed("0.5", "train_val_gap", str) == "0.01, 0.0, -0.01"  # seed order
    # means 0.02 and 0.00, both sd 0.01 over 3 seeds: t = -0.02 / sqrt(2 * 0.01**2 / 3) = -2.449,
    # df 4, two-sided p 0.070; one step, so Holm leaves it as it is
    row = steps(sweep, "train_val_gap", "gap").splitlines()[2]
    assert row == "| 0 to 0.5 | -0.0200 | -2.45 | 0.07 | 0.07 |"
    assert [setting(v) for v in ("1e-05", 0.0, "0.25", "7")] == ["0.00001", "0", "0.25", "7"]


def test_recipe_variants_by_hand() -> None:
    recipe = pd.DataFrame(
        {
            "date": ["2026-12-03", "2026-12-01", "2026-12-02"],
            "variant": ["the default", "the default", "wider"],
            "overrides": [None, None, "model.width=0.375"],
            "seed": [1, 0, 0],
            "test_acc": ["0.92", "0.90", "0.931"],
        }
    )
    rerun = pd.DataFrame({"seed": [0], "test_acc": [0.9404]})
    rows = variants(recipe, rerun, "2026-12-07").splitlines()[2:]
    # 0.90 and 0.92: mean 0.91, sd 0.01414; t(0.975, df 1) = 12.706, half-width
    # 12.706 * 0.01414 / sqrt(2) = 0.1271; one seed: its value as logged, no mean
    assert rows == [
        "| the default |  | 2026-12-01, 2026-12-03 | 0, 1 | 0.90, 0.92 | 0.9100 | 0.7829-1.0371 |",
        f"| {RERUN} |  | 2026-12-07 | 0 | 0.9404 |  |  |",
        "| wider | `model.width=0.375` | 2026-12-02 | 0 | 0.931 |  |  |",
    ]


def test_number_of_labels_tables_by_hand() -> None:
    runs = pd.DataFrame(
        {
            "labels": [2, 2, 4, 4],
            "data.classes": ["[0, 1]", "[2, 3]", "[0, 1, 2, 3]", "[4, 5, 6, 7]"],
            "test_acc": [0.9, 0.8, 0.7, 0.6],
            "run_id": ["a", "b", "c", "d"],
        }
    )
    deepest = pd.DataFrame(
        {
            "clusters_per_filter": [1.0, 2.0, 3.0, 4.0],
            "mean_cluster_size": [1.0, 1.0, 2.0, 2.0],
            "noise_per_filter": [0.0, 1.0, 2.0, 3.0],
            "snr_threshold": [float("inf"), 2.0, 3.0, 4.0],
        }
    )
    first = deepest.assign(clusters_per_filter=9.0, layer=1)  # not the last layer: ignored
    layers = pd.concat([first, deepest.assign(layer=2)]).assign(
        labels=list(runs["labels"]) * 2,
        **{"data.classes": list(runs["data.classes"]) * 2, "run_id": list(runs["run_id"]) * 2},
    )
    subsets = last_layer(runs, layers)
    # errors 0.1, 0.2 at K = 2 and 0.3, 0.4 at K = 4: slope 0.4 / 4 = 0.1, r = 0.4 / sqrt(4 *
    # 0.05) = 0.894; the SNR without its infinite subset: (2, 2), (4, 3), (4, 4), slope 2 / (8/3)
    assert slopes(subsets).splitlines()[2].startswith("| test error | +0.1 | ")
    assert "| 0.89 |" in slopes(subsets).splitlines()[2]
    assert slopes(subsets).splitlines()[-1].startswith("| SNR (threshold) | +0.75 |")
    assert slopes(subsets).splitlines()[-1].endswith("| 3 | 1 |")
    # K = 2: clusters 1 and 2, mean 1.5 +- 12.706 * 0.7071 / sqrt(2) = 6.353; SNR inf and 2: inf
    assert by_k(subsets).splitlines()[2] == (
        "| 2 | 2 | 0.150 | 0.100, 0.200 | 1.5 (-4.85 to 7.85) | 1 | 0.5 | inf |"
    )
    assert per_subset(subsets).splitlines()[2] == "| 2 | `[0, 1]` | 0.100 | 1 | 1 | 0 | inf |"


def test_a_sweep_at_one_layer_keeps_that_layers_numbers_alone() -> None:
    layers = pd.DataFrame({"train.lr": ["0.1"] * 4, "layer": [1, 13, 1, 13], "snr": [1, 2, 3, 4]})
    mechanism = pd.DataFrame({"train.lr": ["0.1"] * 2, "layer": [1, 13], "mean": [2.0, 3.0]})
    runs = pd.DataFrame({"train.lr": ["0.1"], "seed": [0]})
    sweep = at_layer(Sweep("train.lr", runs, layers, runs, mechanism), 13)
    assert list(sweep.layers["snr"]) == [2, 4] and list(sweep.mechanism["mean"]) == [3.0]
    assert sweep.runs is runs  # the backbones' numbers are the sweep's own
