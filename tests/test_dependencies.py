"""Every third-party package src/fedcare imports is declared in pyproject.toml."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import name -> distribution name, where they differ
DISTRIBUTIONS = {"sklearn": "scikit-learn", "fhir": "fhir.resources", "tomli_w": "tomli-w",
                 "annotated_types": "annotated-types", "heu": "sf-heu",
                 "argon2": "argon2-cffi", "xgboost": "xgboost-cpu",
                 "pycrfsuite": "python-crfsuite"}


def _names(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name.split(".")[0] for a in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return {node.module.split(".")[0]}
    return set()


def _guards(tree: ast.AST) -> list[ast.Try]:
    """``try: ... except ImportError`` blocks: the code goes on without what they import."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Try) and any(
        isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
        for h in node.handlers)]


def _declared(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ;~!]", d, maxsplit=1)[0].lower() for d in requirements}


def test_every_imported_package_is_declared() -> None:
    """An import is a dependency; one guarded by ``except ImportError`` (an optional
    feature, e.g. XGBoost beside SecureBoost in ``fedcare benchmark vertical``) may be an
    optional one instead."""
    required: set[str] = set()
    optional: set[str] = set()
    for path in (ROOT / "src" / "fedcare").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = {id(inner) for guard in _guards(tree) for stmt in guard.body
                   for inner in ast.walk(stmt)}
        for node in ast.walk(tree):
            (optional if id(node) in guarded else required).update(_names(node))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _declared(project["dependencies"])
    extras = _declared([d for group in project["optional-dependencies"].values()
                        for d in group])

    def dist(m: str) -> str:
        return DISTRIBUTIONS.get(m, m).lower().replace("_", "-")

    def third_party(names: set[str]) -> set[str]:
        return {m for m in names if m not in sys.stdlib_module_names and m != "fedcare"}

    missing = sorted(m for m in third_party(required) if dist(m) not in declared)
    missing += sorted(m for m in third_party(optional - required)
                      if dist(m) not in declared | extras)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
