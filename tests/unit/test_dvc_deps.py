"""dvc.yaml's code deps, derived: every project module a stage's script imports, directly or
not, is covered by a dep of that stage (or is output-neutral); no dep covers nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from filterscope.tracking.params import OUTPUT_NEUTRAL as OUTPUT_NEUTRAL_KEYS
from filterscope.tracking.params import hyperparameters

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
PACKAGE = "filterscope"
# Modules that cannot change a stage's outputs: MLflow tracking (nothing it writes lands in an
# output), the command line's error reporting and the one-line error messages. README: "What
# DVC tracks".
OUTPUT_NEUTRAL = (
    "src/filterscope/tracking/",
    "src/filterscope/cli.py",
    "src/filterscope/hydra_errors.py",
    "src/filterscope/errors.py",
)


def module_file(name: str) -> Path | None:
    """The source file of project module ``name`` (a package's ``__init__.py``), if any."""
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported(path: Path) -> set[str]:
    """Project modules ``path`` imports anywhere (function bodies too), as dotted names; for
    ``from a import b`` both ``a`` and, when it is a module, ``a.b``; and the stage module a
    ``pipeline/`` script names to ``hydra_entry``, which imports it once the config's values
    have passed (filterscope.cli.staged)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "hydra_entry":
            stage = node.args[0]
            assert isinstance(stage, ast.Constant), f"{path}: hydra_entry's stage must be a literal"
            names.add(stage.value)
    project = {n for n in names if n == PACKAGE or n.startswith(f"{PACKAGE}.")}
    return {n for n in project if module_file(n) is not None}


def import_closure(script: Path) -> set[Path]:
    """Every project source file that running ``script`` imports, parent packages included."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported(path):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
                found = module_file(".".join(parts[:i]))
                if found is not None:
                    todo.append(found)
    return seen


def _stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(REPO).as_posix()
    return any(rel == dep or rel.startswith(dep.rstrip("/") + "/") for dep in deps)


def is_output_neutral(path: Path) -> bool:
    """Whether ``path`` is one of the :data:`OUTPUT_NEUTRAL` modules."""
    rel = path.relative_to(REPO).as_posix()
    return any(rel == n or rel.startswith(n) for n in OUTPUT_NEUTRAL)


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


def test_the_walk_sees_imports_inside_functions_and_parent_packages(tmp_path: Path) -> None:
    closure = {p.relative_to(REPO).as_posix() for p in import_closure(REPO / "pipeline/train.py")}
    assert "src/filterscope/__init__.py" in closure  # a parent package runs first
    assert "src/filterscope/stages/train.py" in closure
    assert "src/filterscope/models/vgg.py" in closure  # through the models package
    assert "src/filterscope/report/html.py" not in closure  # the report is not training's
