"""No `--help` text is swallowed by Rich's markup: Typer renders help with Rich, which
takes ``[default: 10]`` or ``[site.vertical]`` (a bracket then a lower-case letter) for a
style tag and drops it, so "Federated rounds [default: 10]." printed "Federated rounds ."
Every command's and option's help is checked for an unescaped tag of that form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import typer.main

from fedcare.cli import app

_TAG = re.compile(r"(?<!\\)\[[a-z#/@][^\]]*\]")


def _commands(command: click.Command, path: str = "fedcare") -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, f"{path} {name}")


def test_no_help_text_is_eaten_by_rich_markup() -> None:
    eaten = []
    for path, command in _commands(typer.main.get_command(app)):
        texts = [("", command.help or "")] + [
            (getattr(p, "opts", [p.name])[0], getattr(p, "help", None) or "")
            for p in command.params]
        for where, text in texts:
            eaten += [f"{path} {where}: {m}" for m in _TAG.findall(text)]
    assert not eaten, eaten
