"""``fedcare console user ...``: accounts of the web console (``fedcare serve``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fedcare.cli._common import EXIT_CODES, console, handle_errors
from fedcare.exceptions import ConfigError, DataNotFoundError

__all__ = ["console_app"]

console_app = typer.Typer(
    help="The web console of `fedcare serve` (under /console): its accounts.\n\nExample: "
         "fedcare console user add --name lead1 --role study-lead",
    no_args_is_help=True)
user_app = typer.Typer(help="Console accounts: roles admin, study-lead, site-steward, "
                            "clinician, read-only.", no_args_is_help=True)
console_app.add_typer(user_app, name="user")

Db = Annotated[str | None, typer.Option(
    "--db", envvar="FEDCARE_DATABASE_URL", show_default=False,
    help="Registry database URL (default: sqlite:///fedcare.db; env FEDCARE_DATABASE_URL).")]


@user_app.command("add", epilog=EXIT_CODES)
def add(
    name: Annotated[str, typer.Option(help="Sign-in name (letters, digits, . _ - @).",
                                      show_default=False)],
    role: Annotated[str, typer.Option(help="admin, study-lead, site-steward, clinician or "
                                           "read-only.", show_default=False)],
    site: Annotated[str | None, typer.Option(help="For a site steward: the site they speak "
                                                  "for.", show_default=False)] = None,
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", help="Read the password from this file (first line) instead of "
        "asking; or set FEDCARE_CONSOLE_PASSWORD.", show_default=False)] = None,
    db: Db = None,
) -> None:
    """Create a console account. The password (at least 12 characters) is asked for
    without echo and stored as an argon2id hash only.

    Example: fedcare console user add --name steward-cle --role site-steward --site cleveland
    """
    with handle_errors():
        from fedcare.registry import Registry

        if password_file is not None:
            if not password_file.is_file():
                raise DataNotFoundError(f"--password-file {password_file}: no such file")
            lines = password_file.read_text(encoding="utf-8").splitlines()
            password = lines[0] if lines else ""
        elif os.environ.get("FEDCARE_CONSOLE_PASSWORD"):
            password = os.environ["FEDCARE_CONSOLE_PASSWORD"]
        else:
            try:
                password = typer.prompt("Password", hide_input=True,
                                        confirmation_prompt=True)
            except typer.Abort:  # end of input before the confirmation
                raise ConfigError(
                    "no password given twice (asked, then confirmed): type it at the "
                    "prompts, or use --password-file FILE or FEDCARE_CONSOLE_PASSWORD"
                ) from None
        if not password:
            raise ConfigError("empty password")
        user = Registry(db).create_user(name, role, password, site=site)
        console.print(f"created console user {user.name} ({user.role}"
                      + (f", site {user.site}" if user.site else "") + ")", highlight=False)


@user_app.command("list", epilog=EXIT_CODES)
def list_users(db: Db = None) -> None:
    """Every console account (never a password)."""
    with handle_errors():
        from fedcare.registry import Registry

        table = Table("id", "name", "role", "site", "created", "disabled")
        for u in Registry(db).users():
            table.add_row(str(u.id), u.name, u.role, u.site or "–",
                          u.created_at.strftime("%Y-%m-%d %H:%M"), "yes" if u.disabled
                          else "no")
        console.print(table)


@user_app.command("disable", epilog=EXIT_CODES)
def disable(name: Annotated[str, typer.Argument(help="The account's name.")],
            enable: Annotated[bool, typer.Option("--enable", help="Re-enable instead.")]
            = False, db: Db = None) -> None:
    """Disable an account (its sessions end at once) or re-enable it."""
    with handle_errors():
        from fedcare.registry import Registry

        user = Registry(db).set_user_disabled(name, not enable)
        console.print(f"{user.name}: {'disabled' if user.disabled else 'enabled'}",
                      highlight=False)
