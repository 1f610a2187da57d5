"""User-facing errors: one-line messages that name the problem and the file or config key."""

from __future__ import annotations


class FilterscopeError(Exception):
    """Base of every error meant for the user; the message is flattened to a single line."""

    def __init__(self, message: str) -> None:
        lines = (line.strip() for line in str(message).splitlines())
        super().__init__(" ".join(line for line in lines if line))


class DataError(FilterscopeError):
    """A dataset file is missing, unreachable, corrupt or inconsistent."""


class ConfigError(FilterscopeError):
    """A configuration value is invalid."""
