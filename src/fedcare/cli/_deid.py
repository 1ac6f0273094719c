"""``fedcare deid``: de-identify clinical text, tables and DICOM before they leave a site."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fedcare.cli._common import console, err_console, handle_errors, styled, warn

__all__ = ["deid"]


class Lang(StrEnum):
    auto = "auto"
    en = "en"
    zh = "zh"


class Mode(StrEnum):
    tag = "tag"
    pseudonym = "pseudonym"


class Dates(StrEnum):
    shift = "shift"
    safe_harbor = "safe-harbor"
    tag = "tag"


def deid(
    source: Annotated[Path, typer.Option(
        "--in", help="A .txt, .csv/.tsv or .dcm file, or a folder of them (mirrored into "
                     "--out).", show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", help="Output file or folder (written all-or-nothing).",
        show_default=False)],
    lang: Annotated[Lang, typer.Option(
        "--lang", help="Language of the free text: en, zh, or auto (by the share of "
                       "Chinese characters, per text).")] = Lang.auto,
    mode: Annotated[Mode, typer.Option(
        "--mode", help="tag: [NAME], [PHONE], ...; pseudonym: keyed HMAC-SHA256 pseudonyms, "
                       "the same for the same value under the same key (needs a key).")
    ] = Mode.tag,
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="File holding the secret key (>= 16 bytes); default "
                           "$FEDCARE_DEID_KEY. Without either (tag mode only) a random key "
                           "is used for this run.", show_default=False)] = None,
    dates: Annotated[Dates, typer.Option(
        "--dates", help="Date mode. shift: every date of a person moves by one "
                        "keyed offset, format kept (DICOM: option 113107); safe-harbor: year "
                        "only, old years grouped (DICOM: the basic profile's actions); tag: "
                        "[DATE] (DICOM: the basic profile's actions).")] = Dates.shift,
    day_first: Annotated[bool, typer.Option(
        "--day-first", help="Read NN/NN/YYYY dates day first (04/12/1961 = 4 Dec 1961); "
                            "default month first (12 Apr 1961) unless the first number "
                            "exceeds 12. Shifted dates keep the order they were read in.")
    ] = False,
    keep_org: Annotated[bool, typer.Option(
        "--keep-org", help="Keep employers and schools (quasi-identifiers: 'works at X', "
                           "'在X上班'); by default they are replaced by [ORG].")] = False,
    rules_only: Annotated[bool, typer.Option(
        "--rules-only", help="Run the rule-based recognisers alone, without the statistical "
                             "one (a CRF trained on independently written notes): about "
                             "1.5x faster, lower recall on notes unlike the rules' "
                             "(docs/deid.md).")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace --out if it exists.")] = False,
) -> None:
    """Remove names, IDs, phones, addresses, dates and other identifiers.

    Text and CSV: the 18 HIPAA Safe Harbor identifier types and their Chinese counterparts
    (PIPL / GB/T 37964), employers and schools (quasi-identifiers, unless --keep-org), and
    any other code of letters and digits that looks like an identifier (tagged ID). CSV
    columns named as identifiers (name, mrn, phone, 姓名,
    身份证号, ...) are replaced whole, date columns follow the date mode, free-text columns
    cleaned, numeric columns kept. Ages over 89 become 90+ in every mode. DICOM: PS3.15
    Annex E basic profile. Prints the date mode and counts per PHI type, never a value.

    Date modes (--dates):

    shift (default): a person's dates move by one keyed offset, format kept; not Safe Harbor.

    safe-harbor: dates cut to the year (04/12/1961 -> 1961), years showing age > 89 grouped.

    tag: every date becomes [DATE].

    Example: fedcare deid --in notes/ --out notes-deid/ --mode pseudonym --key-file deid.key
    """
    from fedcare.deid import load_key
    from fedcare.deid._files import deidentify_path

    with handle_errors():
        key = load_key(key_file, required=mode is Mode.pseudonym)
        summary = deidentify_path(source, out, lang=lang.value, mode=mode.value, key=key,
                                  dates=dates.value, overwrite=overwrite, day_first=day_first,
                                  keep=("ORG",) if keep_org else (),
                                  statistical=False if rules_only else None)
        console.print(_settings_line(summary), highlight=False, soft_wrap=True)
        table = Table(title=f"De-identified {source} -> {out}", show_header=True)
        table.add_column("what", no_wrap=True)
        table.add_column("count", justify="right")
        for kind, n in sorted(summary.files.items()):
            table.add_row(f"{kind} files", str(n))
        if summary.skipped:
            table.add_row("other files (skipped)", str(summary.skipped))
        for phi_type, n in sorted(summary.phi.items()):
            table.add_row(phi_type, str(n))
        if not summary.phi:
            table.add_row("PHI found", "0")
        if summary.changed_share is not None:
            table.add_row("text replaced", f"{summary.replaced_chars:,} of {summary.chars:,} "
                                           f"characters ({summary.changed_share:.1%})")
        console.print(table)
        for label, roles in summary.columns.items():
            replaced = [c for c, r in roles.items() if r not in ("KEEP", "TEXT")]
            if replaced:
                console.print(f"{label}: identifier/date columns "
                              f"{', '.join(f'{c} ({roles[c]})' for c in replaced)}",
                              highlight=False, soft_wrap=True)
        if summary.date_order_doubt:
            other = "month first" if day_first else "day first"
            fix = "without --day-first" if day_first else "with --day-first"
            warn(f"{summary.date_order_doubt} file(s) write NN/NN/YYYY dates {other} (a date "
                 f"there can only be read that way) but were read "
                 f"{'day' if day_first else 'month'} first: their ambiguous dates (02/01) were "
                 f"shifted in the wrong order and intervals between them are wrong; rerun "
                 f"{fix}")
        if summary.dicom_burned_in:
            warn(f"{summary.dicom_burned_in} DICOM file(s) say BurnedInAnnotation=YES: "
                 "text in the pixels is not removed")
        if dates is Dates.safe_harbor and mode is Mode.pseudonym:
            err_console.print(styled("note:", "yellow",
                                     " pseudonyms are keyed hashes of the identifiers; "
                                     "45 CFR 164.514(c) allows a re-identification code only "
                                     "if it is not derived from them: use --mode tag for a "
                                     "Safe Harbor release"))
        if summary.ephemeral_key:
            err_console.print(styled("note:", "yellow", " no key given: date shifts and "
                                     "DICOM UIDs use a random key and will not match other "
                                     "runs"))


def _settings_line(summary: object) -> str:
    """One line recording how the run de-identified: replacement mode and date mode."""
    from fedcare.deid._files import Summary

    assert isinstance(summary, Summary)
    line = (f"recognisers: {'rules + CRF' if summary.statistical else 'rules only'}; "
            f"mode: {summary.mode}; dates: {summary.dates}")
    if summary.dates == "safe-harbor" and summary.reference_year is not None:
        line += (f" (year only; years <= {summary.reference_year - 90} grouped, "
                 f"reference year {summary.reference_year})")
    if summary.day_first:
        line += "; NN/NN/YYYY read day first"
    line += "; employers and schools kept" if summary.keep else \
        "; employers and schools replaced"
    return line
