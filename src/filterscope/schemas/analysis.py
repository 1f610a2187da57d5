"""The analysis group's checks."""

from __future__ import annotations

from typing import Any

from filterscope.schemas.rules import check, number


def analysis_problems(analysis: Any) -> list[str]:
    """Every invalid value of the analysis group."""
    p: list[str] = []
    theta = analysis.theta
    check(p, number(theta) and 0 <= theta < 1, "analysis.theta", theta, "a number in [0, 1)")
    return p
