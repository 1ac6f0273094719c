"""``make test`` runs the deployment test files one after another (tests/conftest.py):
a renamed file would silently run beside another deployment again."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_root_conftest", REPO / "tests" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
DEPLOYMENT_FILES = _conftest.DEPLOYMENT_FILES

STARTS_FLOWER = ("start_site", "start_coordinator", "flower-supernode", "flower-superlink")


def test_the_deployment_files_exist() -> None:
    for path in DEPLOYMENT_FILES:
        assert (REPO / path).is_file(), path


def test_every_file_that_starts_a_deployment_is_listed() -> None:
    starting = set()
    for path in (REPO / "tests").rglob("test_*.py"):
        names = {n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute)
                 else n.value if isinstance(n, ast.Constant) else None
                 for n in ast.walk(ast.parse(path.read_text()))}
        if names & set(STARTS_FLOWER):
            starting.add(path.relative_to(REPO).as_posix())
    assert starting - {"tests/test_test_groups.py"} <= DEPLOYMENT_FILES
