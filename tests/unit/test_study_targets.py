"""Every study target of the Makefile runs configs that compose and validate: each command
`make -n` prints is taken apart as the shell would (the label subsets are drawn for real), and
each value of each swept key is composed with the others at their first value."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from filterscope.config import validate

REPO = Path(__file__).resolve().parents[2]


def commands(target: str) -> list[list[str]]:
    """The argument lists of the pipeline scripts `make <target>` would run."""
    lines = subprocess.run(
        ["make", "-n", target, "OVERRIDES=data.source=/mirror"],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    split = [
        subprocess.run(
            ["bash", "-c", f"set -- {line}; printf '%s\\0' \"$@\""],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split("\0")[:-1]
        for line in lines.replace("\\\n", " ").splitlines()
        if "pipeline/" in line
    ]
    starts = [next(i for i, a in enumerate(args) if a.startswith("pipeline/")) for args in split]
    return [args[i:] for args, i in zip(split, starts, strict=True)]


def configs(args: list[str]) -> list[list[str]]:
    """One override list per value of each swept key, the other keys at their first value."""
    overrides = OverridesParser.create().parse_overrides([a for a in args[1:] if a != "-m"])
    parsed = [o for o in overrides if not o.is_hydra_override()]
    values = [
        [f"{o.key_or_group}={v}" for v in o.sweep_string_iterator()]
        if o.is_sweep_override()
        else [o.input_line]
        for o in parsed
    ]
    first = [v[0] for v in values]
    return [first[:i] + [v] + first[i + 1 :] for i, vs in enumerate(values) for v in vs[1:]] or [
        first
    ]


@pytest.mark.parametrize("target", ["sweep", "mechanism", "mechanism-vgg", "labels"])
def test_study_target_configs_compose_and_validate(target: str) -> None:
    runs = commands(target)
    assert any("-m" in args for args in runs), f"make {target} runs no sweep"
    sweeps = 0
    for args in runs:
        for overrides in configs(args):
            with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
                cfg = compose("config", overrides)
            validate(cfg)
            assert cfg.data.source == "/mirror"
            sweeps += 1
    assert sweeps >= len(runs)


def test_mechanism_vgg_is_the_default_vgg_profile_on_fashion_mnist() -> None:
    chains = [a for a in commands("mechanism-vgg") if a[0] == "pipeline/chain.py"]
    assert len(chains) == 2  # the learning-rate and the dropout sweep
    for args in chains:
        with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
            cfg = compose("config", configs(args)[0])
        assert (cfg.model.name, cfg.model.depth, cfg.data.name) == ("vgg", 16, "fashion_mnist")
        assert cfg.probe.layers == "all" and cfg.data.train_limit == 6000
