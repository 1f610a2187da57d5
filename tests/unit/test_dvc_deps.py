"""dvc.yaml's code deps, derived: every project module a stage's script imports, directly or
not, is covered by a dep of that stage (or is output-neutral); no dep covers nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from filterscope.tracking.params import OUTPUT_NEUTRAL as OUTPUT_NEUTRAL_KEYS
from filterscope.tracking.params import hyperparameters
from tests.helpers.imports import REPO, import_closure, is_output_neutral


def _stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(REPO).as_posix()
    return any(rel == dep or rel.startswith(dep.rstrip("/") + "/") for dep in deps)


STAGES = sorted(_stages())


@pytest.mark.parametrize("stage", STAGES)
def test_every_module_a_stage_imports_is_a_dep(stage: str) -> None:
    spec = _stages()[stage]
    script = REPO / spec["cmd"].split()[1]
    closure = import_closure(script)
    assert len(closure) > 3, "the walk found the stage's imports"
    missing = sorted(
        p.relative_to(REPO).as_posix()
        for p in closure
        if not _covered(p, spec["deps"]) and not is_output_neutral(p)
    )
    assert missing == [], f"dvc.yaml: stage {stage} must list these deps: {missing}"


@pytest.mark.parametrize("stage", STAGES)
def test_no_code_dep_covers_what_the_stage_never_imports(stage: str) -> None:
    spec = _stages()[stage]
    closure = import_closure(REPO / spec["cmd"].split()[1])
    code = [d for d in spec["deps"] if d.startswith(("src/", "pipeline/"))]
    stale = [d for d in code if not any(_covered(p, [d]) for p in closure)]
    assert stale == [], f"dvc.yaml: stage {stage} depends on code it does not import: {stale}"
    # A folder dep is exact only when the stage imports every module in it.
    loose = {
        d: sorted(p.name for p in (REPO / d).rglob("*.py") if p not in closure)
        for d in code
        if (REPO / d).is_dir()
    }
    assert {d: names for d, names in loose.items() if names} == {}, (
        f"dvc.yaml: stage {stage} lists folders it imports only part of; list the files"
    )


def test_the_logged_hyperparameters_are_what_the_stages_track() -> None:
    """Every top-level config key is either a DVC param of some stage (and logged to MLflow as
    a param) or output-neutral (and not), never both: the compare page's params are the keys
    that change a result."""
    tracked = {str(p).split(".")[0] for spec in _stages().values() for p in spec.get("params", [])}
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert tracked.isdisjoint(OUTPUT_NEUTRAL_KEYS)
    assert tracked | set(OUTPUT_NEUTRAL_KEYS) == set(params)
    assert {key.split(".")[0] for key in hyperparameters(params)} == tracked


def test_the_walk_sees_imports_inside_functions_and_parent_packages() -> None:
    closure = {p.relative_to(REPO).as_posix() for p in import_closure(REPO / "pipeline/train.py")}
    assert "src/filterscope/__init__.py" in closure  # a parent package runs first
    assert "src/filterscope/stages/train.py" in closure
    assert "src/filterscope/models/vgg.py" in closure  # through the models package
    assert "src/filterscope/report/html.py" not in closure  # the report is not training's


def test_a_group_check_reaches_the_stages_of_its_group_alone() -> None:
    """From the import walk (the deps above are its image): a check of the prune group reruns
    prune alone, a train check train and what follows it, and download reaches no model code
    and no check (tests/integration/test_pipeline_dvc.py edits them under real `dvc status`)."""

    def reached(module: str) -> set[str]:
        return {
            stage
            for stage, spec in _stages().items()
            if REPO / module in import_closure(REPO / spec["cmd"].split()[1])
        }

    assert reached("src/filterscope/schemas/prune.py") == {"prune"}
    assert reached("src/filterscope/schemas/train.py") == set(STAGES) - {"download"}
    download = import_closure(REPO / _stages()["download"]["cmd"].split()[1])
    rel = {p.relative_to(REPO).as_posix() for p in download}
    assert not {
        p for p in rel if p.startswith(("src/filterscope/models/", "src/filterscope/schemas/"))
    }
