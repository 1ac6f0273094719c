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


@data_app.command("check-images", epilog=EXIT_CODES)
def check_images(
    images: Annotated[Path, typer.Option(
        help="Folder of DICOM files (one slice per file).")],
    labels: Annotated[Path | None, typer.Option(
        help="CSV naming the slices (file, label, site columns); without it every *.dcm "
             "file under --images is read.")] = None,
    file_column: Annotated[str, typer.Option(
        help="Column of --labels holding each slice's path under --images.")] = "file",
    site_column: Annotated[str, typer.Option(help="Site column of --labels.")] = "site",
    target: Annotated[str, typer.Option(help="0/1 label column of --labels.")] = "label",
    modality: Annotated[str, typer.Option(
        help="Accepted modality, e.g. CT, 'CT,MR' or any.")] = "CT",
    size: Annotated[int, typer.Option(min=8, max=512,
                                      help="Grid the slices are resampled to.")] = 64,
    window: Annotated[str, typer.Option(
        help="How values map to [0, 1]: auto (CT: -1000..400 HU; other modalities: each "
             "slice's 0.5-99.5th percentile), percentile, or LOW,HIGH.")] = "auto",
    positive: Annotated[str | None, typer.Option(
        help="The --target value meaning 'finding' when it is not 0/1 (e.g. yes).")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Also write the findings here.")] = None,
) -> None:
    """Read, check and de-identify an image export as a study would, and count what
    it finds per site (nothing is written but --json).

    Each file is read with pydicom, checked (modality, a single greyscale slice,
    decodable pixels, burned-in text, square pixels, private tags), de-identified with
    the DICOM PS3.15 basic profile and resampled; the table lists, per site, the files
    left out and the warnings. See docs/imaging.md.

    Example: fedcare data check-images --images dicom/ --labels labels.csv
    """
    import json

    with handle_errors():
        from fedcare.imaging import MEANINGS, read_image_cohort, scan_dicom_folder

        check_output_file("--json", json_out)
        from fedcare.config._study import parse_window

        try:
            windowing = parse_window(window)
        except ValueError as exc:
            raise ConfigError(f"--window: {exc}") from None
        names = tuple(m.strip().upper() for m in modality.split(",") if m.strip())
        accepted = None if names in ((), ("ANY",)) else names
        if labels is not None:
            cohort = read_image_cohort(images, labels, file_column=file_column,
                                       site_column=site_column,
                                       label_column=target, size=size, modality=accepted,
                                       window=windowing, positive=positive, strict=False)
            usable = {s: int((cohort.sites == s).sum())
                      for s in sorted({f.site for f in cohort.findings}
                                      | set(cohort.site_names()))}
            findings, seconds = cohort.findings, cohort.seconds
        else:
            _files, n, findings, seconds = scan_dicom_folder(images, modality=accepted,
                                                             size=size, window=windowing)
            usable = {images.name: n}
        table = Table(title=f"image checks: {sum(usable.values())} usable slices; read, "
                            f"checked and de-identified in {seconds:.1f} s")
        for column in ("site", "finding", "files", "the files are", "meaning"):
            table.add_column(column)
        for f in findings:
            table.add_row(f.site, f.kind, str(f.count), "left out" if f.left_out else "kept",
                          MEANINGS.get(f.kind, f.kind))
        console.print(table)
        for site, n in usable.items():
            console.print(f"{site}: {n} usable slices")
        if json_out is not None:
            write_text_atomic(json_out, json.dumps(
                {"usable": usable, "seconds": seconds,
                 "findings": [f.to_dict() for f in findings]}, indent=2))
