"""The probe size guard: refuse, before any work, probes whose weights would not fit in memory."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import psutil
import torch

from filterscope.errors import ConfigError

GIB = 1 << 30
SUGGESTED_POOL = 4


def size_text(nbytes: float) -> str:
    """``nbytes`` in GiB, MiB or KiB, whichever reads best."""
    for unit, size in (("GiB", GIB), ("MiB", 1 << 20)):
        if nbytes >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes / 1024:.2f} KiB"


def probe_bytes(shape: Sequence[int], num_classes: int, optimizer: str, momentum: float) -> int:
    """Bytes a float32 probe on a ``(C, H, W)`` cut point holds while it trains: its weight, the
    gradient and the optimiser's state (SGD: one momentum buffer; Adam: two moments)."""
    copies = 2 + (2 if optimizer == "adam" else 1 if momentum > 0 else 0)
    return 4 * copies * num_classes * math.prod(shape)


def pooled(shape: Sequence[int], grid: int = SUGGESTED_POOL) -> tuple[int, int, int]:
    c, h, w = shape
    return c, min(h, grid), min(w, grid)


def check_probe_memory(
    shapes: Mapping[int, Sequence[int]],
    num_classes: int,
    optimizer: str,
    momentum: float,
    limit_bytes: float,
    where: str,
) -> int:
    """Raise :class:`ConfigError` if the probes of ``shapes`` (layer -> cut-point shape) need more
    than ``limit_bytes``; the message gives what they need, the largest, and what
    ``probe.pool`` would need. Returns the bytes needed."""
    need = {layer: probe_bytes(s, num_classes, optimizer, momentum) for layer, s in shapes.items()}
    total = sum(need.values())
    if total <= limit_bytes:
        return total
    largest = max(need, key=need.__getitem__)
    small = sum(probe_bytes(pooled(s), num_classes, optimizer, momentum) for s in shapes.values())
    c, h, w = shapes[largest]
    raise ConfigError(
        f"the probes would need {size_text(total)} (float32 weights, gradients and"
        f" {optimizer} state for {num_classes} labels; the largest, layer {largest} on a"
        f" {c}x{h}x{w} cut point, {size_text(need[largest])}) but {where} allows"
        f" {size_text(limit_bytes)}; set probe.pool={SUGGESTED_POOL} (a named variant that"
        f" averages each cut point to at most {SUGGESTED_POOL}x{SUGGESTED_POOL}: needs"
        f" {size_text(small)}), probe fewer layers (probe.layers), or raise"
        " probe.memory_limit_gb"
    )


def memory_limit(limit_gb: float | None, accelerator: str) -> tuple[float, str]:
    """The bytes the probes may take and where that limit comes from: ``probe.memory_limit_gb``,
    else half the free memory of the GPU they will train on, else half the available RAM."""
    if limit_gb is not None:
        return float(limit_gb) * GIB, f"probe.memory_limit_gb={limit_gb}"
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        return free / 2, "half the free GPU memory"
    return psutil.virtual_memory().available / 2, "half the available memory"
