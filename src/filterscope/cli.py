"""Stage scripts' entry point: Hydra config in, a result line or a one-line error out."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from filterscope.errors import FilterscopeError
from filterscope.outputs import json_ready

EXIT_USER_ERROR = 2


def report_errors(run: Callable[[Any], Any], cfg: Any) -> Any:
    """Run a stage; a :class:`FilterscopeError` prints ``error: <message>`` and exits with 2."""
    try:
        result = run(cfg)
    except FilterscopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    print(json.dumps(json_ready(result), sort_keys=True))
    return result


def hydra_entry(run: Callable[[Any], Any], script: str) -> None:
    """``@hydra.main`` over the repo's ``conf/`` (beside the ``pipeline/`` script) for ``run``."""
    conf = Path(script).resolve().parent.parent / "conf"

    @hydra.main(config_path=str(conf), config_name="config", version_base="1.3")
    def _main(cfg: DictConfig) -> None:
        report_errors(run, cfg)

    _main()
