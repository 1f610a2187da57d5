"""Normalised and thresholded field matrices (docs/method.md, Phase 3)."""

from __future__ import annotations

import numpy as np

DEFAULT_THETA = 0.3


def square_matrix(m: np.ndarray, name: str = "matrix") -> np.ndarray:
    """Return ``m`` as an array after checking that it is a square 2-D matrix."""
    m = np.asarray(m)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name} must be a square (K, K) matrix; got shape {m.shape}")
    return m


def normalise(m: np.ndarray) -> np.ndarray | None:
    """``M / max(M)`` with the signed maximum of the whole matrix; ``None`` if that max is <= 0
    (a silent filter)."""
    m = square_matrix(m, "field matrix").astype(np.float64)
    if not np.isfinite(m).all():
        raise ValueError("field matrix has non-finite entries")
    peak = m.max()
    if peak <= 0:
        return None
    return m / peak


def threshold(mn: np.ndarray, theta: float = DEFAULT_THETA) -> np.ndarray:
    """Boolean matrix ``Mn > theta`` (strict)."""
    return square_matrix(mn, "normalised matrix") > theta
