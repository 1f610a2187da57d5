"""The data group's checks: which dataset, how it is converted and split."""

from __future__ import annotations

import re
from typing import Any

from filterscope.data.registry import DATASETS, FORMATS, check_channels, parse_size
from filterscope.errors import ConfigError
from filterscope.schemas.rules import check, integer, listed, number


def _source_problems(data: Any) -> list[str]:
    """Checks of the keys that say which dataset and how it is converted."""
    p: list[str] = []
    fmt, name = data.get("format"), data.name
    check(p, fmt in FORMATS, "data.format", fmt, "null|imagefolder|torchvision")
    if fmt is None:
        check(p, name in DATASETS, "data.name", name, "|".join(sorted(DATASETS)))
    else:
        ok = isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9][\w.-]*", name) is not None
        check(p, ok, "data.name", name, "a folder name: letters, digits, '_', '.', '-'")
    classes = data.get("classes")
    ok = classes is None or (listed(classes) and len(classes) >= 2)
    check(p, ok, "data.classes", classes, "null or a list of 2 or more label names or indices")
    for reading in (
        lambda: parse_size(data.get("resize")),
        lambda: check_channels(data.get("channels")),
    ):
        try:
            reading()
        except ConfigError as exc:
            p.append(str(exc))
    return p


def data_problems(data: Any) -> list[str]:
    """Every invalid value of the data group."""
    p = _source_problems(data)
    vf = data.val_fraction
    check(p, number(vf) and 0 <= vf < 1, "data.val_fraction", vf, "a number in [0, 1)")
    for key in ("train_limit", "test_limit"):
        v = data[key]
        ok = v is None or (integer(v) and v >= 1)
        check(p, ok, f"data.{key}", v, "null or an integer >= 1")
    return p
