"""``make test`` runs the deployment test files one after another (tests/conftest.py):
a renamed file, or a scheduler hook that xdist stops calling, would silently run two
deployments at once again."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import SimpleNamespace

from xdist.remote import Producer

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_root_conftest", REPO / "tests" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
DEPLOYMENT_FILES = _conftest.DEPLOYMENT_FILES
MAKEFILE = (REPO / "Makefile").read_text()

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


class _Worker:
    """What xdist's scheduler calls on a worker; records the tests it is sent."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[int] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True


def test_the_scheduler_puts_all_deployment_tests_on_one_worker() -> None:
    """The scheduler ``make test`` gets (through xdist's public hook) is given a
    collection and two workers; every deployment test must land on one of them, while
    the other files are still spread over both."""
    assert "--dist loadfile" in MAKEFILE  # the hook answers only then
    options = {"dist": "loadfile", "tx": ["2*popen"], "loadscopereorder": True}
    config = SimpleNamespace(getvalue=options.__getitem__, option=SimpleNamespace(**options))
    scheduler = _conftest.pytest_xdist_make_scheduler(config, Producer("test"))
    assert scheduler is not None
    deployment = [f"{path}::test_{i}" for path in sorted(DEPLOYMENT_FILES) for i in range(2)]
    others = [f"tests/other/test_{k}.py::test_{i}" for k in range(6) for i in range(3)]
    collection = [*others[:9], *deployment, *others[9:]]
    workers = [_Worker("gw0"), _Worker("gw1")]
    for worker in workers:
        scheduler.add_node(worker)
    for worker in workers:
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()
    while any(worker.sent for worker in workers) and scheduler.workqueue:
        for worker in workers:  # finish what each was sent; it asks for more
            for index in list(worker.sent):
                scheduler.mark_test_complete(worker, index)
    got = {w.gateway.id: {collection[i] for i in w.sent} for w in workers}
    placed = [name for name, tests in got.items() if set(deployment) & tests]
    assert len(placed) == 1, got
    assert set(deployment) <= got[placed[0]]


def test_outside_loadfile_the_hook_leaves_xdist_alone() -> None:
    config = SimpleNamespace(getvalue={"dist": "load"}.__getitem__)
    assert _conftest.pytest_xdist_make_scheduler(config, None) is None
