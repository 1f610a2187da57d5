"""The model group's checks (a factory checks its own options when the model is built)."""

from __future__ import annotations

from typing import Any

from filterscope.schemas.rules import check, integer, number

VGG_LAYOUTS: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}
"""The VGG family's layouts by depth (the allowed ``model.depth``): channels per conv layer,
``"M"`` a 2x2 max-pool after the conv before it."""
TRANSFORMER_COUNTS = {
    "vit": ("dim", "depth", "heads", "patch"),
    "cct": ("dim", "depth", "heads", "convs", "kernel"),
}
"""The integer options of filterscope's transformers (``model=vit``, ``model=cct``)."""


def model_problems(model: Any) -> list[str]:
    """The model keys every network shares that the config itself shows."""
    p: list[str] = []
    dropout = model.get("dropout", 0.0)
    check(p, number(dropout) and 0 <= dropout < 1, "model.dropout", dropout, "a number in [0, 1)")
    return p


def model_type_problems(model: Any, image_size: int) -> list[str]:
    """Integer options of the built-in models that are not integers (3.0, true, "16"), which the
    factories would reject with an unhelpful message or, for a bool, silently accept, and a VGG
    depth without a layout."""
    p: list[str] = []
    name = model.get("name")
    kernel = model.get("kernel_size", 3)
    if name == "vgg":
        width = model.get("width", 1.0)
        check(p, number(width) and width > 0, "model.width", width, "a number > 0")
        depth = model.get("depth", 16)
        known = integer(depth) and depth in VGG_LAYOUTS
        check(p, known, "model.depth", depth, f"one of {sorted(VGG_LAYOUTS)}")
        allowed = f"an odd size from 1 to {image_size}"
        check(p, integer(kernel), "model.kernel_size", kernel, allowed)
    elif name in TRANSFORMER_COUNTS:
        for key in TRANSFORMER_COUNTS[name]:
            value = model.get(key, 1)
            check(p, integer(value) and value >= 1, f"model.{key}", value, "an integer >= 1")
        ratio = model.get("mlp_ratio", 2.0)
        check(p, number(ratio) and ratio > 0, "model.mlp_ratio", ratio, "a number > 0")
    elif name == "convnet":
        for key in ("filters", "hidden", "pool"):
            value = model.get(key, 1)
            check(p, integer(value) and value >= 1, f"model.{key}", value, "an integer >= 1")
        pool = model.get("pool", 2)
        most = f", at most {image_size - pool + 1}" if integer(pool) else ""
        check(p, integer(kernel), "model.kernel_size", kernel, f"an integer >= 1{most}")
    return p
