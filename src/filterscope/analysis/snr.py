"""Signal-to-noise ratio of a layer's accumulated matrix ``A = sum_f B_f`` (docs/method.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from filterscope.analysis.matrices import square_matrix


@dataclass(frozen=True)
class SNR:
    """Mean diagonal (``signal``), mean off-diagonal (``noise``), their ratio, per-label ratios."""

    signal: float
    noise: float
    ratio: float
    per_label: np.ndarray

    def to_dict(self) -> dict:
        """JSON-ready dict; inf/nan stay Python floats."""
        return {
            "signal": self.signal,
            "noise": self.noise,
            "ratio": self.ratio,
            "per_label": [float(x) for x in self.per_label],
        }


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Elementwise ``num / den`` for ``num, den >= 0``: ``inf`` where only ``den`` is 0, ``nan``
    where both are (0/0), and no numpy warnings."""
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    out = np.where(num > 0, math.inf, math.nan)
    return np.divide(num, den, out=out, where=den > 0)


def snr(accumulated: np.ndarray) -> SNR:
    """SNR of a non-negative ``(K, K)`` accumulated matrix, ``K >= 2``.

    ``ratio`` is a ratio of means (mean diagonal / mean off-diagonal); ``per_label[a]`` is
    ``A[a, a] / mean_{j != a} A[a, j]``. A zero denominator gives ``inf`` (or ``nan`` for 0/0,
    i.e. a layer with no above-threshold field at all).
    """
    a = square_matrix(accumulated, "accumulated matrix").astype(np.float64)
    k = a.shape[0]
    if k < 2:
        raise ValueError("SNR needs at least 2 labels (off-diagonal elements)")
    if not np.isfinite(a).all() or (a < 0).any():
        raise ValueError("accumulated matrix must be finite and non-negative")
    diag = np.diag(a).copy()
    np.fill_diagonal(a, 0.0)
    off_row = a.sum(axis=1) / (k - 1)
    signal = float(diag.mean())
    noise = float(off_row.mean())
    return SNR(
        signal=signal,
        noise=noise,
        ratio=float(safe_ratio(np.float64(signal), np.float64(noise))),
        per_label=safe_ratio(diag, off_row),
    )
