"""The whole chain for one config in one job: (download) -> train -> probe -> extract -> report
(-> prune, unless ``chain.prune`` is false)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filterscope.config import checked
from filterscope.data.prepared import is_prepared
from filterscope.distributed import refuse_relaunch
from filterscope.progress import say
from filterscope.stages import download, extract, probe, prune, report, train


@checked
def run(cfg: Any) -> dict[str, Any]:
    """Run every stage in turn (download only when the prepared data is missing or was
    converted with other data options; prune unless ``chain.prune`` is false); on one device
    (DDP relaunches scripts, see :func:`refuse_relaunch`)."""
    refuse_relaunch(cfg.train, "the whole chain")
    if not is_prepared(Path(cfg.paths.prepared), cfg.data):
        download.run(cfg)
    trained = train.run(cfg)
    probed = probe.run(cfg)
    extract.run(cfg)
    reported = report.run(cfg)
    result = {
        "test_acc": trained["test_acc"],
        "probe_accuracy": probed["accuracy"],
        "snr_threshold": reported["snr_threshold"],
        "report_html": reported["report_html"],
    }
    if cfg.chain.prune:
        pruned = prune.run(cfg)
        result["pruned_acc"] = {row["arm"]: row["finetuned_acc"] for row in pruned["arms"]}
        say("chain", f"pruning: {(Path(cfg.paths.prune) / 'prune.html').resolve()}")
    say("chain", f"report: {Path(reported['report_html']).resolve()}")
    return result
