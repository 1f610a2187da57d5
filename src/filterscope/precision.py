"""Mixed precision switched off where a number is measured rather than trained, and a warning
where bf16 would train slower than float32."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

import torch

# CPU features (names of torch.cpu.get_capabilities()) with native bf16 arithmetic, per family:
# x86 and Arm CPUs are told apart by the key each family's mapping holds ("avx2", "neon").
NATIVE_BF16 = {"avx2": ("avx512_bf16", "amx_bf16"), "neon": ("bf16", "sve_bf16")}


def autocast_off(device: torch.device | str) -> AbstractContextManager[None]:
    """Mixed precision off on ``device``'s kind: inside it, ops compute in their inputs' dtype
    even when a caller (a bf16 Trainer) has autocast on. Measurements run inside it."""
    return torch.autocast(device_type=torch.device(device).type, enabled=False)


def slow_bf16_warning(precision: str, on_cpu: bool, capabilities: Mapping[str, Any]) -> str | None:
    """A warning when a fit in ``precision`` runs bf16 on a CPU known to lack native bf16
    (``capabilities``: torch.cpu.get_capabilities()); None otherwise, or for an unknown CPU."""
    if not (on_cpu and precision.startswith("bf16")):
        return None
    for family, native in NATIVE_BF16.items():
        if family in capabilities and not any(capabilities.get(key) for key in native):
            return (
                f"warning: {precision} on a CPU without native bf16 ({' or '.join(native)}):"
                " expect it slower than float32 (BENCHMARKS.md, section 11);"
                " train.precision=32-true trains in float32"
            )
    return None
