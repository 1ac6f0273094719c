"""One error table: README, CLI help, CLI exit codes and API statuses agree with the classes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import fedcare.data
import fedcare.exceptions as exceptions
import fedcare.explain
from fedcare.cli import app as cli_app
from fedcare.cli._common import EXIT_CODES, handle_errors
from fedcare.exceptions import (
    ERROR_TABLE,
    FIXED_EXIT_CODES,
    FedcareError,
    exit_code_help,
    exit_codes,
)
from fedcare.registry import Registry
from fedcare.serving import create_app

README = Path(__file__).resolve().parents[1] / "README.md"
assert fedcare.data and fedcare.explain  # imported for their FedcareError subclasses


def _all_error_classes() -> list[type[FedcareError]]:
    seen: list[type[FedcareError]] = []
    todo: list[type[FedcareError]] = [FedcareError]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.append(cls)
            todo.extend(cls.__subclasses__())
    return seen


def _instance(cls: type[FedcareError]) -> FedcareError:
    """An instance whatever the class's own ``__init__`` wants (message "boom")."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, "boom")
    return exc


def _items(sentence: str) -> dict[int, str]:
    """``0 success; 1 ...; 8 ....`` -> {0: "success", ...} (whitespace normalised)."""
    text = " ".join(sentence.split())
    match = re.search(r"\b0 success;.*?\.(?= |$)", text)
    assert match, f"no exit-code list in: {text[:200]}"
    items = re.split(r"; (?=\d+ )", match.group(0).removesuffix("."))
    out = {}
    for item in items:
        code, meaning = item.split(" ", 1)
        out[int(code)] = meaning
    return out


def _readme_paragraph() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("**Exit codes**")
    return text[start:text.index("\n\n", start)]


def test_table_lists_every_class_of_the_module_with_its_attributes() -> None:
    defined = {obj for obj in vars(exceptions).values()
               if isinstance(obj, type) and issubclass(obj, FedcareError)}
    assert set(ERROR_TABLE) == defined - {FedcareError}
    for cls in _all_error_classes():
        assert isinstance(cls.exit_code, int) and cls.exit_code in exit_codes(), cls
        assert 400 <= cls.http_status <= 599, cls
        assert cls.meaning and "\n" not in cls.meaning and ";" not in cls.meaning, cls
    assert [code for code, _, _ in FIXED_EXIT_CODES] == [0, 1, 2]
    assert exceptions.PolicyRefusal.exit_code == 6
    assert exceptions.PolicyRefusal.http_status == 403
    assert issubclass(exceptions.PolicyRefusal, PermissionError)


def test_readme_paragraph_matches_the_table() -> None:
    readme = _items(_readme_paragraph())
    assert readme == _items(exit_code_help(http=True, markdown=True))
    for code, meanings in exit_codes().items():  # the same, read as the table's parts
        statuses = [int(s) for s in re.findall(r"\(HTTP (\d{3})\)", readme[code])]
        assert statuses == [status for _, status in meanings if status is not None], code
        for meaning, _ in meanings:
            assert meaning.replace("FEDCARE_DEBUG=1", "`FEDCARE_DEBUG=1`") in readme[code]


def test_cli_help_shows_the_generated_exit_codes() -> None:
    assert exit_code_help() == EXIT_CODES
    assert _items(EXIT_CODES) == {code: " or ".join(m for m, _ in meanings)
                                  for code, meanings in exit_codes().items()}
    runner = CliRunner()
    for args in (["--help"], ["study", "run", "--help"], ["data", "check", "--help"]):
        result = runner.invoke(cli_app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        shown = " ".join(result.output.replace("│", " ").split())
        assert _items(shown) == _items(EXIT_CODES), args


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda c: c.__qualname__)
def test_cli_exits_with_the_class_code(cls: type[FedcareError]) -> None:
    with pytest.raises(typer.Exit) as exited, handle_errors():
        raise _instance(cls)
    assert exited.value.exit_code == cls.exit_code


def test_api_returns_each_class_status(tmp_path: Path) -> None:
    app = create_app(Registry(f"sqlite:///{tmp_path / 'r.db'}"))
    classes = {f"{cls.__module__}.{cls.__qualname__}": cls for cls in _all_error_classes()}

    @app.get("/raise/{name}")
    def _raise(name: str) -> None:
        raise _instance(classes[name])

    client = TestClient(app, raise_server_exceptions=False)
    for name, cls in classes.items():
        r = client.get(f"/raise/{name}")
        assert r.status_code == cls.http_status, name
        assert r.json() == {"detail": "boom"}, name
