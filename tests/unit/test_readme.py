"""The README stays a five-minute read, and every command in it is real: each make target is in
the Makefile, each script in pipeline/, each config override composes, each link resolves."""

from __future__ import annotations

import re
import shlex

import pytest
from hydra import compose, initialize_config_dir

from filterscope.config import refuse_bad_values
from filterscope.hydra_errors import added_keys
from tests.helpers.imports import REPO

README = (REPO / "README.md").read_text()
CONF = REPO / "conf"
COMMANDS = [
    line.split("  #", 1)[0].strip()
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    for line in block.splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def test_the_readme_is_short() -> None:
    assert len(README.splitlines()) <= 150
    assert len(README.split()) <= 1500


def test_every_make_target_it_names_exists() -> None:
    targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), flags=re.M))
    named = {w for c in COMMANDS if c.startswith("make ") for w in shlex.split(c)[1:2]}
    named |= set(re.findall(r"`make ([\w-]+)", README))
    assert named and named <= targets, sorted(named - targets)


def _overrides(command: str) -> list[str]:
    """The config overrides a README command passes: Hydra's after a script, DVC's ``-S``, make's
    ``OVERRIDES``; a sweep's first value; placeholders (``<mirror>``) and Hydra's own keys out."""
    words = shlex.split(command)
    if words[:2] == ["dvc", "exp"]:
        values = [w for prev, w in zip(words, words[1:], strict=False) if prev == "-S"]
    elif words[0] == "make":
        values = [v for w in words if w.startswith("OVERRIDES=") for v in w[10:].split()]
    else:
        values = [w for w in words[2:] if "=" in w and w != "-m"]
    kept = []
    for value in values:
        key, _, setting = value.partition("=")
        if key.startswith("hydra") or "<" in setting or setting.startswith("/path"):
            continue
        first = setting if setting.startswith("[") else setting.split(",")[0]
        kept.append(f"{key}={first}")
    return kept


CONFIGURED = [c for c in COMMANDS if c.startswith(("python pipeline/", "dvc exp run", "make "))]


@pytest.mark.parametrize("command", CONFIGURED)
def test_every_command_names_a_real_script_and_its_overrides_compose(command: str) -> None:
    words = shlex.split(command)
    if words[0] == "python":
        assert (REPO / words[1]).is_file(), words[1]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", _overrides(command))
    assert added_keys(cfg, CONF) == []
    refuse_bad_values(cfg)


def test_every_link_resolves() -> None:
    targets = re.findall(r"\]\(([^)#]+)\)", README)
    assert targets
    missing = [t for t in targets if not t.startswith("http") and not (REPO / t).exists()]
    assert missing == []


def test_the_parser_reads_what_a_user_types() -> None:
    """The override reader above can fail: it sees a sweep's first value and drops placeholders."""
    assert _overrides("python pipeline/train.py -m a.b=1,2 hydra/launcher=joblib x=<m>") == [
        "a.b=1"
    ]
    assert _overrides("dvc exp run -S 'p.c=[a,b]' -S q=2") == ["p.c=[a,b]", "q=2"]
    assert _overrides('make run OVERRIDES="data=cifar10_subset" DATA_SOURCE=/path/x') == [
        "data=cifar10_subset"
    ]
