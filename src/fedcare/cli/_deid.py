"""``fedcare deid``: de-identify clinical text, tables and DICOM before they leave a site."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fedcare.cli._common import console, err_console, handle_errors

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
        "--dates", help="shift: move every date of a person by the same keyed offset "
                        "(1-365 days; intervals kept; DICOM: option 113107); tag: [DATE] "
                        "(DICOM: the basic profile's actions).")] = Dates.shift,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace --out if it exists.")] = False,
) -> None:
    """Remove names, IDs, phones, addresses, dates and other identifiers.

    Text and CSV: the 18 HIPAA Safe Harbor identifier types and their Chinese counterparts
    (PIPL / GB/T 37964). CSV columns named as identifiers (name, mrn, phone, 姓名,
    身份证号, ...) are replaced whole, date columns shifted, free-text columns cleaned,
    numeric columns kept. DICOM: PS3.15 Annex E basic profile. Prints counts per PHI type,
    never a value.

    Example: fedcare deid --in notes/ --out notes-deid/ --mode pseudonym --key-file deid.key
    """
    from fedcare.deid import load_key
    from fedcare.deid._files import deidentify_path

    with handle_errors():
        key = load_key(key_file, required=mode is Mode.pseudonym)
        summary = deidentify_path(source, out, lang=lang.value, mode=mode.value, key=key,
                                  dates=dates.value, overwrite=overwrite)
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
        console.print(table)
        for label, roles in summary.columns.items():
            replaced = [c for c, r in roles.items() if r not in ("KEEP", "TEXT")]
            if replaced:
                console.print(f"{label}: identifier/date columns "
                              f"{', '.join(f'{c} ({roles[c]})' for c in replaced)}",
                              highlight=False, soft_wrap=True)
        if summary.dicom_burned_in:
            err_console.print(f"[yellow]warning:[/] {summary.dicom_burned_in} DICOM file(s) "
                              "say BurnedInAnnotation=YES: text in the pixels is not removed",
                              highlight=False)
        if summary.ephemeral_key:
            err_console.print("[yellow]note:[/] no key given: date shifts and DICOM UIDs use "
                              "a random key and will not match other runs", highlight=False)
