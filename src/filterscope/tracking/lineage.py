"""How the stage runs of one pipeline find each other without writing into their outputs.

A stage output holds only what the stage computed, so identical content has an identical DVC
hash and a rerun that changes nothing leaves the stages after it alone. The run that wrote an
output is tagged ``filterscope.output.<stage>`` with the output's :func:`content_hash`; the
stage that reads it hashes what it reads and asks the store for that tag.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

OUTPUT_TAG = "filterscope.output"
_CHUNK = 1 << 20


def content_hash(directory: Path) -> str:
    """SHA-256 over every file under ``directory``: relative paths and bytes, in sorted order."""
    digest = hashlib.sha256()
    root = Path(directory)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def output_tag(stage: str) -> str:
    """The tag that holds the content hash of ``stage``'s output."""
    return f"{OUTPUT_TAG}.{stage}"


@dataclass
class Upstream:
    """A stage's input: the ``directory`` that stage ``stage`` wrote."""

    stage: str
    directory: Path
    _hash: str | None = field(default=None, repr=False)

    @property
    def hash(self) -> str | None:
        """The input's content hash (None while the directory does not exist)."""
        if self._hash is None and Path(self.directory).is_dir():
            self._hash = content_hash(self.directory)
        return self._hash

    def search_filter(self) -> str | None:
        """An MLflow filter for the runs that wrote exactly this input."""
        if self.hash is None:
            return None
        return f"tags.`{output_tag(self.stage)}` = '{self.hash}'"
