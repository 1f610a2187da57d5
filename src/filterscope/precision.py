"""Mixed precision switched off where a number is measured rather than trained."""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch


def autocast_off(device: torch.device | str) -> AbstractContextManager[None]:
    """Mixed precision off on ``device``'s kind: inside it, ops compute in their inputs' dtype
    even when a caller (a bf16 Trainer) has autocast on. Measurements run inside it."""
    return torch.autocast(device_type=torch.device(device).type, enabled=False)
