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
                 "argon2": "argon2-cffi"}


def test_every_imported_package_is_declared() -> None:
    imported: set[str] = set()
    for path in (ROOT / "src" / "fedcare").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "fedcare"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=\[ ;~!]", d, maxsplit=1)[0].lower()
                for d in project["dependencies"]}
    missing = sorted(m for m in third_party
                     if DISTRIBUTIONS.get(m, m).lower().replace("_", "-") not in declared)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
