"""The ``fedcare`` command line (the only package that imports typer)."""

from __future__ import annotations

import warnings

import typer

from fedcare import __version__
from fedcare.cli._analytics import analytics_app
from fedcare.cli._assess import assess_command, assistant_app
from fedcare.cli._audit import audit_app
from fedcare.cli._benchmark import benchmark_app
from fedcare.cli._common import EXIT_CODES
from fedcare.cli._console import console_app
from fedcare.cli._data import data_app
from fedcare.cli._deid import deid
from fedcare.cli._deploy import coordinator_app, site_app, study_resume, study_submit
from fedcare.cli._quality import register as register_quality
from fedcare.cli._serve import apikey_app, model_app, serve
from fedcare.cli._study import demo, study_app
from fedcare.cli._vertical import vertical_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="fedcare",
    help="Federated clinical risk models across hospitals: every patient row stays at its "
         "site.\n\nExample: fedcare demo (a four-hospital heart-disease study, on this "
         "machine)\n\n" + EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("demo", epilog=EXIT_CODES)(demo)
app.add_typer(study_app, name="study")
app.add_typer(benchmark_app, name="benchmark")
app.add_typer(audit_app, name="audit")
app.add_typer(analytics_app, name="analytics")
app.add_typer(coordinator_app, name="coordinator")
app.add_typer(site_app, name="site")
app.add_typer(data_app, name="data")
app.command("deid", epilog=EXIT_CODES)(deid)
register_quality(data_app, study_app)
app.add_typer(model_app, name="model")
app.add_typer(apikey_app, name="apikey")
app.add_typer(vertical_app, name="vertical")
app.command("serve", epilog=EXIT_CODES)(serve)
app.command("assess", epilog=EXIT_CODES)(assess_command)
app.add_typer(assistant_app, name="assistant")
app.add_typer(console_app, name="console")
study_app.command("submit", epilog=EXIT_CODES)(study_submit)
study_app.command("resume", epilog=EXIT_CODES)(study_resume)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fedcare {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Federated clinical risk models across hospitals."""


def _show_warning(message: Warning | str, category: type[Warning], *_: object,
                  **__: object) -> None:
    from fedcare.cli._common import warn

    warn(message)  # printed as written: "[index]" in a warning is text, not markup


def main() -> None:
    """Console-script entry point."""
    warnings.showwarning = _show_warning
    app()
