"""The slow-bf16 warning: which CPUs, precisions and devices get it."""

from __future__ import annotations

import pytest

from filterscope.precision import slow_bf16_warning

ZEN3 = {"architecture": "x86_64", "avx2": True, "avx512_f": True, "avx512_bf16": False}
ZEN4 = {**ZEN3, "avx512_bf16": True}
SAPPHIRE = {**ZEN3, "amx_bf16": True}
GRAVITON2 = {"architecture": "aarch64", "neon": True, "bf16": False, "sve_bf16": False}
GRAVITON3 = {**GRAVITON2, "bf16": True}


@pytest.mark.parametrize("caps", [ZEN3, GRAVITON2])
@pytest.mark.parametrize("precision", ["bf16-mixed", "bf16-true"])
def test_bf16_on_a_cpu_without_it_is_warned(caps: dict, precision: str) -> None:
    text = slow_bf16_warning(precision, True, caps)
    assert text is not None
    assert text.startswith(f"warning: {precision} on a CPU without native bf16")
    assert "train.precision=32-true" in text


@pytest.mark.parametrize("caps", [ZEN4, SAPPHIRE, GRAVITON3])
def test_a_cpu_with_native_bf16_is_not_warned(caps: dict) -> None:
    assert slow_bf16_warning("bf16-mixed", True, caps) is None


@pytest.mark.parametrize(
    ("precision", "on_cpu", "caps"),
    [
        ("32-true", True, ZEN3),  # float32
        ("16-mixed", True, ZEN3),  # not bf16
        ("bf16-mixed", False, ZEN3),  # a GPU's bf16
        ("bf16-mixed", True, {"architecture": "riscv64"}),  # a CPU we cannot judge
    ],
)
def test_nothing_else_is_warned(precision: str, on_cpu: bool, caps: dict) -> None:
    assert slow_bf16_warning(precision, on_cpu, caps) is None
