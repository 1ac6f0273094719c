"""``fedcare audit verify``: check an audit log's hash chain and summarise it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fedcare.cli._common import EXIT_CODES, console, handle_errors

__all__ = ["audit_app"]

audit_app = typer.Typer(
    help="Check the audit logs sites and the coordinator keep of every message.\n\n"
         "Example: fedcare audit verify audit/site-cleveland.jsonl",
    no_args_is_help=True)


@audit_app.callback()
def _audit() -> None:
    """Check audit logs (a group even with one command, so `audit verify LOG` always works)."""


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items()) or "–"


@audit_app.command("verify", epilog=EXIT_CODES)
def verify(
    log: Annotated[Path, typer.Argument(help="A JSON-lines audit log (site-*.jsonl or "
                                             "coordinator.jsonl).", show_default=False)],
) -> None:
    """Check LOG's hash chain and print what it records (never data values).

    Exit 8 (AuditError) names the first line that is malformed, altered or out of order.

    Example: fedcare audit verify audit/coordinator.jsonl
    """
    from fedcare.privacy._audit import verify_log

    with handle_errors():
        summary = verify_log(log)
        table = Table(title=f"Audit log {log}: hash chain intact", show_header=False)
        table.add_column("field", no_wrap=True)
        table.add_column("value", overflow="fold")
        table.add_row("records", str(summary.records))
        table.add_row("by type", _counts(summary.by_type))
        table.add_row("by direction", _counts(summary.by_direction))
        table.add_row("array bytes", f"{summary.total_bytes:,}")
        table.add_row("first", summary.first_time or "–")
        table.add_row("last", summary.last_time or "–")
        table.add_row("sites", ", ".join(summary.sites) or "–")
        table.add_row("last hash", summary.last_hash)
        console.print(table)
