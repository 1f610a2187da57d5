"""Hydra's composition errors as one line, and the one private Hydra API they lean on."""

from __future__ import annotations

from pathlib import Path

from filterscope.hydra_errors import added_keys, composition_error

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_the_private_hydra_parser_still_reads_a_command_line_as_we_use_it() -> None:
    """``hydra._internal.utils.get_args_parser`` has no public equivalent; pyproject pins
    hydra-core below 1.4, and this fails when the parser changes under that pin."""
    from hydra._internal.utils import get_args_parser

    args, rest = get_args_parser().parse_known_args(
        ["--config-name", "params", "-cd", "/x", "-m", "train.lr=0.1", "seed=0,1"]
    )
    assert (args.config_name, args.config_dir, args.multirun) == ("params", "/x", True)
    assert args.overrides == ["train.lr=0.1", "seed=0,1"] and rest == []


def test_an_unknown_key_names_the_nearest_one_of_the_composed_config() -> None:
    error = composition_error(
        Exception("Could not override 'train.lrr'. No match in config."), CONF, ["train.lrr=1"]
    )
    assert str(error) == (
        "invalid config: unknown key train.lrr (did you mean train.lr? A new key is added with"
        " +train.lrr=...)"
    )
    far = composition_error(Exception("Could not override 'zzz'."), CONF, ["zzz=1"])
    assert "(no key of that name. A new key is added with +zzz=...)" in str(far)


def test_a_key_added_to_a_one_option_group_is_named_with_the_nearest_one() -> None:
    composed = {
        "train": {"lr": 0.1, "lrr": 0.1},
        "runtime": {"zzz": 1},
        "model": {"name": "vgg", "anything": 1},  # several options: a factory checks its own
        "seed": 0,
    }
    assert added_keys(composed, CONF) == [
        "unknown key runtime.zzz (no key of that name. The runtime keys are those of"
        " conf/runtime/default.yaml)",
        "unknown key train.lrr (did you mean train.lr? The train keys are those of"
        " conf/train/default.yaml)",
    ]
    assert added_keys({"train": {"lr": 0.1, "epochs": 3}}, CONF) == []
