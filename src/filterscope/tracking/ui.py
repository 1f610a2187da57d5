"""Addresses in the MLflow UI: ``make ui``'s runs table, and a sweep's comparison page.

``python -m filterscope.tracking.ui --store URI --url http://127.0.0.1:5000`` prints the first
(the experiment is created, as a model-development experiment, if no stage has run yet).

MLflow 3's UI (3.17) opens a page in its model-training view or its GenAI view by the address's
``workflowType`` parameter, else by the sidebar's workflow switch as this browser last left it
(saved in the browser's local storage), GenAI at first; the experiment's
``mlflow.experimentKind`` tag does not decide it, and no server option sets it. So every address
printed here carries ``workflowType=machine_learning``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from urllib.parse import urlencode

from filterscope.tracking.store import experiment_id

# The model-training view of MLflow 3's UI (see the module docstring).
WORKFLOW = {"workflowType": "machine_learning"}
# Where `make ui` serves the UI (its UI_PORT).
MAKE_UI = "http://127.0.0.1:5000"


def runs_url(server: str, experiment: str) -> str:
    """The UI page of experiment id ``experiment`` that lists its runs, in the model-training
    view."""
    return f"{server.rstrip('/')}/#/experiments/{experiment}/runs?{urlencode(WORKFLOW)}"


def compare_url(server: str, experiment: str, run_ids: Sequence[str]) -> str:
    """The UI's page that compares the runs ``run_ids`` of experiment id ``experiment`` (their
    params and metrics side by side, parallel coordinates), in the model-training view."""
    query = {"runs": json.dumps(list(run_ids)), "experiments": json.dumps([experiment])}
    return f"{server.rstrip('/')}/#/compare-runs?{urlencode({**query, **WORKFLOW})}"


def ui_address(tracking: str, ui: str | None) -> str:
    """Where the UI answers: ``ui`` when set, else the tracking server itself (an http(s)
    tracking URI), else ``make ui``'s address over the embedded store."""
    if ui:
        return str(ui)
    return tracking if tracking.startswith(("http://", "https://")) else MAKE_UI


def link_comparison(uri: str, server: str, sweep_id: str) -> str:
    """The address at ``server`` that compares the FINISHED runs of sweep ``sweep_id`` (its
    parent run in store ``uri``): printed, and on the parent run as the tag
    ``filterscope.compare_url`` and in its description."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    parent = client.get_run(sweep_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        f"tags.`mlflow.parentRunId` = '{sweep_id}' and attributes.status = 'FINISHED'",
    )
    url = compare_url(server, parent.info.experiment_id, [r.info.run_id for r in children])
    client.set_tag(sweep_id, "filterscope.compare_url", url)
    note = f"[Compare the {len(children)} finished runs of this sweep]({url})"
    client.set_tag(sweep_id, "mlflow.note.content", note)
    print(
        f"[sweep] {parent.info.run_name}: its {len(children)} finished runs side by side: {url}",
        file=sys.stderr,
        flush=True,
    )
    return url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="the tracking store's URI")
    parser.add_argument("--url", required=True, help="where the UI will answer")
    parser.add_argument("--experiment", default="filterscope", help="tracking.experiment")
    args = parser.parse_args(argv)
    from mlflow.tracking import MlflowClient

    found = experiment_id(MlflowClient(args.store), args.experiment, args.store)
    url = runs_url(args.url, found)
    print(f"MLflow UI ({args.experiment} runs; `make ui` serves it): {url}", flush=True)


if __name__ == "__main__":
    main()
