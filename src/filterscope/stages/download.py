"""Stage 1: fetch, verify and convert a dataset into compact uint8 tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filterscope.config import checked
from filterscope.data.acquire import prepare_dataset
from filterscope.data.prepared import conversion_options
from filterscope.tracking import stage_run


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Prepare ``data/prepared/<name>/`` from ``data.source`` (official host when null)."""
    out = Path(cfg.paths.prepared)
    files = None if cfg.data.files is None else [(f.name, f.md5) for f in cfg.data.files]
    with stage_run(cfg, "download") as tracked:
        meta = prepare_dataset(
            cfg.data.name,
            cfg.data.source,
            files,
            Path(cfg.paths.raw),
            out,
            progress=bool(cfg.runtime.progress),
            options=conversion_options(cfg.data),
        )
        for split, n in meta["counts"].items():  # sizes, not results: tags, not metrics
            tracked.set_tag(f"filterscope.{split}_images", str(n))
        tracked.log_artifact(out / "meta.json")
        tracked.record_output(out)
    return meta
