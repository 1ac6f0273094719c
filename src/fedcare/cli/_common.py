"""What every command shares: errors to exit codes, run folders, tables."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from fedcare._io import write_text_atomic
from fedcare.exceptions import ConfigError, FedcareError, exit_code_help


#: Both consoles print text as written: no markup and no emoji codes are read from a
#: string, so "[index]", "[lb_av]", "mm[Hg]" or ":x:" in a message, unit, path, site or
#: column name reach the terminal unchanged, in tables too. The CLI's own styling is
#: given as Rich styles (``style=``, :class:`~rich.text.Text`, :func:`styled`), never as
#: markup inside a string.
class _Console(Console):
    """Rich's console, but a reader that goes away (``| head``) ends the command with exit
    code 0, as a pager would, not 1 (the code fedcare keeps for bugs)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0)


console = _Console(markup=False, emoji=False)
err_console = _Console(stderr=True, markup=False, emoji=False)

#: The exit codes in one sentence (every command's epilog), generated from the error table.
EXIT_CODES = exit_code_help()


def styled(label: str, style: str, text: object = "") -> Text:
    """``label`` in ``style`` followed by ``text`` as written (never read as markup)."""
    return Text.assemble((label, style), str(text))


def warn(text: object) -> None:
    """One yellow ``warning:`` line on stderr; ``text`` is printed as written."""
    err_console.print(styled("warning:", "yellow", f" {text}"), soft_wrap=True)


def dim(text: object) -> None:
    """A progress or status line on stderr, dimmed; printed as written."""
    err_console.print(str(text), style="dim", highlight=False)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn fedcare errors into one red line and their documented exit code."""
    try:
        yield
    except FedcareError as exc:
        err_console.print(styled("error:", "bold red", f" {type(exc).__name__}: {exc}"),
                          soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except (KeyboardInterrupt, typer.Exit):
        raise
    except Exception as exc:
        if os.environ.get("FEDCARE_DEBUG"):
            traceback.print_exc()
        err_console.print(styled("unexpected error:", "bold red",
                                 f" {type(exc).__name__}; rerun with FEDCARE_DEBUG=1 for "
                                 "the traceback and report it"), soft_wrap=True)
        raise typer.Exit(1) from None


def live_federation(coordinator: Path | None, sites: int | None) -> bool:
    """True when ``--coordinator`` asks for a live federation; checks it goes with ``--sites``."""
    if coordinator is None:
        if sites is not None:
            raise ConfigError("--sites applies only with --coordinator")
        return False
    if sites is None:
        raise ConfigError("--coordinator needs --sites N (the sites to wait for)")
    if not coordinator.is_dir():
        raise ConfigError(f"--coordinator {coordinator}: no such folder")
    return True


def check_output_file(option: str, path: Path | None) -> None:
    """Refuse an output file path that cannot be written, before any work starts."""
    if path is None:
        return
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder; expected a file name")
    parent = path.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ConfigError(f"{option} {path}: folder {parent} does not exist or is not "
                          "writable")


def write_json(data: Any, path: Path) -> None:
    """Write atomically: a failure leaves the old file (or none), never half a file."""
    write_text_atomic(path, json.dumps(data, indent=2, default=float))


def round_progress(total: int, label: str) -> tuple[Progress, Callable[[], None]]:
    """A Rich progress bar over ``total`` rounds and its advance callback."""
    progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                        transient=True, disable=not sys.stderr.isatty())
    task = progress.add_task(label, total=total)
    return progress, lambda: progress.advance(task)


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def comparison_table(metrics: dict[str, Any], title: str) -> Table:
    """Settings as rows: mean client accuracy, pooled-test accuracy/AUC, rounds, seconds."""
    table = Table(title=title)
    for col in ("setting", "mean site acc", "pooled acc", "pooled AUC", "rounds", "seconds"):
        table.add_column(col, justify="left" if col == "setting" else "right",
                         no_wrap=col == "setting")
    for setting, r in metrics["results"].items():
        table.add_row(setting, _fmt(r["mean_client_accuracy"]), _fmt(r["pooled_test"]["accuracy"]),
                      _fmt(r["pooled_test"]["auc"]), _fmt(r.get("rounds")),
                      _fmt(r.get("seconds")))
    return table


def site_table(metrics: dict[str, Any]) -> Table:
    """Sites as rows: sizes, then test accuracy of each setting."""
    settings = [s for s in metrics["results"] if not s.startswith("local:")]
    table = Table(title="Test accuracy per site")
    for col in ("site", "train", "test", *settings):
        table.add_column(col.replace(":", ": "), justify="left" if col == "site" else "right",
                         no_wrap=col == "site")
    for site, info in metrics["sites"].items():
        if site in metrics.get("excluded_sites", {}):
            continue
        row = [site, _fmt(info.get("n_train")), _fmt(info.get("n_test"))]
        for s in settings:
            row.append(_fmt(metrics["results"][s]["per_site"].get(site, {}).get("accuracy")))
        table.add_row(*row)
    return table


def write_outputs(metrics: dict[str, Any], root: Path, label: str) -> Path:
    """:func:`fedcare.report._run_folder.write_outputs`, imported when a command runs (the
    report package pulls in numpy and matplotlib)."""
    from fedcare.report._run_folder import write_outputs as write

    return write(metrics, root, label)
