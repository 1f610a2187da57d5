"""The random label subsets of the number-of-labels study."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from filterscope.data.subsets import label_subsets, main, sweep_override
from filterscope.errors import ConfigError


def test_subsets_per_k_are_distinct_sorted_and_seeded() -> None:
    subsets = label_subsets(10, [2, 5, 9, 10], per_k=3, seed=0)
    sizes = [len(s) for s in subsets]
    assert sizes == [2] * 3 + [5] * 3 + [9] * 3 + [10]  # one 10-label subset exists
    assert subsets[-1] == list(range(10))
    for k in (2, 5, 9):
        drawn = [tuple(s) for s in subsets if len(s) == k]
        assert len(set(drawn)) == 3 and all(list(s) == sorted(s) for s in drawn)
        assert all(0 <= label < 10 for s in drawn for label in s)
    assert label_subsets(10, [2, 5, 9, 10], 3, seed=0) == subsets
    assert label_subsets(10, [2, 5, 9, 10], 3, seed=1) != subsets
    assert label_subsets(3, [2], per_k=5) == [[0, 1], [0, 2], [1, 2]]  # all three there are


@pytest.mark.parametrize(
    ("ks", "per_k", "message"), [([1], 2, "K=1"), ([11], 2, "K=11"), ([2], 0, "per K")]
)
def test_impossible_requests_are_refused(ks: list[int], per_k: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        label_subsets(10, ks, per_k)


def test_the_override_is_a_hydra_sweep_over_the_subsets(capsys: pytest.CaptureFixture[str]) -> None:
    subsets = [[0, 3], [1, 2, 7]]
    (override,) = OverridesParser.create().parse_overrides([sweep_override(subsets)])
    assert override.key_or_group == "data.classes" and list(override.sweep_iterator()) == subsets
    main(["--classes", "4", "--k", "3", "--per-k", "9"])
    assert capsys.readouterr().out.strip() == "data.classes=[0,1,2],[0,1,3],[0,2,3],[1,2,3]"
