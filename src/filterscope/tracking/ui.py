"""``make ui``'s address: the project's experiment in the MLflow UI's runs table.

``python -m filterscope.tracking.ui --store URI --url http://127.0.0.1:5000`` prints it (the
experiment is created, as a model-development experiment, if no stage has run yet).
"""

from __future__ import annotations

import argparse

from mlflow.tracking import MlflowClient

from filterscope.tracking.run import experiment_id


def runs_url(server: str, experiment: str) -> str:
    """The UI page of experiment id ``experiment`` that lists its runs, in the model-training
    view (MLflow 3 otherwise may open an experiment on its GenAI pages)."""
    return f"{server.rstrip('/')}/#/experiments/{experiment}/runs?workflowType=machine_learning"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="the tracking store's URI")
    parser.add_argument("--url", required=True, help="where the UI will answer")
    parser.add_argument("--experiment", default="filterscope", help="tracking.experiment")
    args = parser.parse_args(argv)
    found = experiment_id(MlflowClient(args.store), args.experiment, args.store)
    url = runs_url(args.url, found)
    print(f"MLflow UI ({args.experiment} runs; `make ui` serves it): {url}", flush=True)


if __name__ == "__main__":
    main()
