"""The project's import graph, as DVC's code deps must cover it: the modules a script imports,
directly or not, and the modules that cannot change an output."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
PACKAGE = "filterscope"
# Modules that cannot change a stage's outputs: MLflow tracking (nothing it writes lands in an
# output), the command line's error reporting, the one-line error messages and the gathering
# of the config checks (a check refuses a config or lets it through). docs/pipeline.md: "What
# DVC tracks".
OUTPUT_NEUTRAL = (
    "src/filterscope/tracking/",
    "src/filterscope/cli.py",
    "src/filterscope/hydra_errors.py",
    "src/filterscope/errors.py",
    "src/filterscope/config.py",
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
    """Every project source file that running ``script`` imports, parent packages included.
    The walk does not go on through an output-neutral module: what only such a module imports
    acts through it, so it cannot change an output either (a stage's own import of the same
    module is followed from the stage)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if is_output_neutral(path):
            continue
        for name in _imported(path):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
                found = module_file(".".join(parts[:i]))
                if found is not None:
                    todo.append(found)
    return seen


def is_output_neutral(path: Path) -> bool:
    """Whether ``path`` is one of the :data:`OUTPUT_NEUTRAL` modules."""
    rel = path.relative_to(REPO).as_posix()
    return any(rel == n or rel.startswith(n) for n in OUTPUT_NEUTRAL)
