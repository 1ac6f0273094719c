"""``fedcare data import``: FHIR, OMOP or CSV through a mapping file to one flat table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fedcare._io import write_text_atomic
from fedcare.cli._common import EXIT_CODES, check_output_file, console, handle_errors
from fedcare.exceptions import ConfigError

__all__ = ["data_app"]

data_app = typer.Typer(
    help="Bring hospital data into fedcare: FHIR R4 (Bundles or NDJSON), OMOP CDM v5.4 "
         "(CSV files or a database) or a CSV, read through one mapping file (codes, units, "
         "windows, label; see docs/data.md) into a flat table with a site column, the "
         "features and the label.\n\n"
         "Example: fedcare data import --fhir exports/ --mapping heart.toml --out heart.csv",
    no_args_is_help=True)


@data_app.callback()
def _data() -> None:
    """Import and check hospital data (a group, so more commands can join it)."""


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items() if v) or "–"


@data_app.command("import", epilog=EXIT_CODES)
def import_(
    mapping: Annotated[Path, typer.Option("--mapping", help="The mapping file (TOML): codes, "
                                          "units, windows, sites, label.",
                                          show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="The flat table to write (.csv); written "
                                      "atomically, never half.", show_default=False)],
    fhir: Annotated[Path | None, typer.Option("--fhir", help="A folder (or file) of FHIR R4 "
                                              "Bundles (.json) and NDJSON (.ndjson).",
                                              show_default=False)] = None,
    omop: Annotated[str | None, typer.Option("--omop", help="A folder of OMOP CSV tables or a "
                                             "database URL (sqlite:///cdm.db).",
                                             show_default=False)] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="A CSV or Parquet table, one row "
                                             "per patient.", show_default=False)] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="FHIR: validate in this "
                                         "many processes.")] = 1,
    max_bad_fraction: Annotated[float | None, typer.Option(
        "--max-bad-fraction", min=0.0, max=1.0,
        help="Records that fail validation or have no usable unit are left out and "
             "counted; fail when more than this share of the records read are bad "
             "(default: the mapping's max_bad_fraction, else 0.05).",
        show_default=False)] = None,
) -> None:
    """Read FHIR, OMOP or a CSV through MAPPING and write one row per patient to OUT.

    Prints what was read, used and left out (counts only: rows, sites, rows with a
    missing feature, records with codes the mapping does not name, bad records left out
    per reason, patients who died before the index date, each unit conversion by
    analyte) and the speed.  Exit 3 (DataError, UnitError) names the file, line or row,
    resource type and feature, never a patient's value; nothing is written then.

    Example: fedcare data import --omop sqlite:///cdm.db --mapping heart.toml --out heart.csv
    """
    from fedcare.data import load_mapping, read_fhir, read_mapped_table, read_omop

    with handle_errors():
        given = [name for name, value in (("--fhir", fhir), ("--omop", omop), ("--csv", csv))
                 if value is not None]
        if len(given) != 1:
            raise ConfigError("give exactly one of --fhir DIR, --omop DIR_OR_URL or --csv FILE"
                              + (f" (got {', '.join(given)})" if given else ""))
        check_output_file("--out", out)
        if out.suffix.lower() != ".csv":
            raise ConfigError(f"--out {out}: the flat table is written as CSV; name it .csv")
        spec = load_mapping(mapping)
        if max_bad_fraction is not None:
            spec = spec.with_max_bad_fraction(max_bad_fraction)
        if fhir is not None:
            result = read_fhir(fhir, spec, workers=workers)
        elif omop is not None:
            result = read_omop(omop, spec)
        else:
            assert csv is not None
            result = read_mapped_table(csv, spec)
        write_text_atomic(out, result.frame.to_csv(index=False))
        report = result.report
        frame = result.frame
        per_site = {str(k): int(v) for k, v in
                    frame[spec.site.column].value_counts(sort=False).items()}
        noun = {"fhir": "resources", "omop": "rows", "csv": "rows"}[report.source]
        table = Table(title=f"Imported {report.source.upper()} {report.location} -> {out}",
                      show_header=False)
        table.add_column("what", no_wrap=True)
        table.add_column("count", overflow="fold")
        table.add_row("read", f"{report.records:,} {noun} in {report.files:,} file(s) "
                              f"({_counts(report.by_type)})")
        table.add_row("patients", f"{report.patients:,}")
        table.add_row("rows written", f"{len(frame):,} ({_counts(per_site)})")
        if result.problem is not None:
            table.add_row("complete rows", f"no usable cohort yet: {result.problem}")
        else:
            table.add_row("complete rows", f"{report.rows:,}")
        table.add_row("sites", str(len(per_site)))
        table.add_row("dropped (missing feature)", _counts(report.dropped))
        table.add_row("unmapped codes", _counts(report.unmapped))
        if report.ignored:
            table.add_row("ignored types", _counts(report.ignored))
        if report.excluded:
            table.add_row("excluded", _counts(report.excluded))
        if report.quarantined:
            share = report.bad / max(report.records, 1)
            table.add_row("bad records left out",
                          f"{report.bad:,} ({share:.2%}; limit {spec.max_bad_fraction:.0%}): "
                          + _counts(report.quarantined))
        if report.died_before_index:
            table.add_row("died before index date", _counts(report.died_before_index))
        if report.censored_by_death:
            table.add_row("died in label window (censored)", _counts(report.censored_by_death))
        if report.deceased_no_date:
            table.add_row("deceased, no date (kept)", f"{report.deceased_no_date:,}")
        if report.zoned:
            table.add_row("times read in site zone", f"{report.zoned:,}")
        if spec.model.link is not None:
            table.add_row("pseudonym column", f"{spec.model.link.column} (keyed HMAC-SHA256; "
                                              f"{report.no_link_id:,} without an identifier)")
        skipped = {"no subject": report.unlinked, "no date": report.undated,
                   "no value": report.no_value, "no index date": report.no_index}
        if any(skipped.values()):
            table.add_row("skipped", _counts(skipped))
        conversions = [f"{c['feature']} ({c['analyte']}, by {c['analyte_from']}) from "
                       f"{c['from']} to {c['to']}: {c['values']:,} by {c['rule']}"
                       for c in report.conversions]
        table.add_row("units converted", "\n".join(conversions) or "–")
        table.add_row("speed", f"{report.seconds:.2f} s, {report.records_per_second:,.0f} "
                               f"{noun}/s")
        console.print(table)
