"""De-identifying files and folders: .txt, .csv/.tsv, .dcm; all-or-nothing output."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fedcare._io import umask_mode, write_bytes_atomic, write_text_atomic
from fedcare.deid._common import Mode
from fedcare.deid._dates import date_order_doubt
from fedcare.deid._dicom import deidentify_dataset, dicom_bytes, read_dicom
from fedcare.deid._table import deidentify_frame, read_csv
from fedcare.deid._text import DateMode, Replacer, check_date_mode, make_keyed
from fedcare.exceptions import ConfigError, DataError, DataNotFoundError

__all__ = ["SUFFIXES", "Summary", "deidentify_path"]

#: File kinds by (lower-case) suffix.
SUFFIXES = {".txt": "text", ".text": "text", ".csv": "table", ".tsv": "table",
            ".dcm": "dicom", ".dicom": "dicom"}


@dataclass
class Summary:
    """What :func:`deidentify_path` did: counts and settings only, never a value.

    ``mode`` (tag/pseudonym), ``dates`` (shift/safe-harbor/tag), ``day_first`` and
    ``reference_year`` (Safe Harbor's reference for ages over 89) and ``statistical`` (the
    CRF ran beside the rules) record how it was run.  ``date_order_doubt`` counts the files
    whose written dates show the other order than the one they were read in (see
    :func:`fedcare.deid._dates.date_order_doubt`).
    """

    source: Path
    output: Path
    files: Counter[str] = field(default_factory=Counter)
    phi: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    dicom_burned_in: int = 0
    ephemeral_key: bool = False
    mode: str = "tag"
    dates: str = "shift"
    day_first: bool = False
    reference_year: int | None = None
    keep: tuple[str, ...] = ()
    statistical: bool = False
    date_order_doubt: int = 0
    chars: int = 0
    replaced_chars: int = 0

    @property
    def changed_share(self) -> float | None:
        """The share of the text (text files and table cells) that was replaced."""
        return self.replaced_chars / self.chars if self.chars else None


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({type(exc).__name__})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})") from None


class _Job:
    def __init__(self, replacer: Replacer, lang: str, dates: DateMode, summary: Summary) -> None:
        self.replacer, self.lang, self.dates, self.summary = replacer, lang, dates, summary

    def one(self, src: Path, dst: Path, label: str) -> None:
        kind = SUFFIXES[src.suffix.lower()]
        if kind == "text":
            text = _read_text(src)
            self._check_order(text)
            result = self.replacer.text(text, self.lang)
            write_text_atomic(dst, result.text)
            self.summary.phi.update(result.counts)
            self.summary.chars += len(text)
            self.summary.replaced_chars += result.replaced_chars
        elif kind == "table":
            frame = read_csv(src)
            self._check_order("\n".join(str(v) for v in frame.to_numpy().ravel()))
            out, report = deidentify_frame(frame, self.lang, replacer=self.replacer)
            sep = "\t" if src.suffix.lower() == ".tsv" else ","
            write_text_atomic(dst, out.to_csv(index=False, sep=sep))
            self.summary.phi.update(report.counts)
            self.summary.columns[label] = report.roles
            self.summary.chars += report.chars
            self.summary.replaced_chars += report.replaced_chars
        else:
            ds = read_dicom(src)
            # Safe Harbor keeps no DICOM date at all: the profile's actions (as for tag)
            dicom_dates: DateMode = "shift" if self.dates == "shift" else "tag"
            ds, dicom = deidentify_dataset(ds, mode=self.replacer.mode, dates=dicom_dates,
                                           keyed=self.replacer.keyed)
            write_bytes_atomic(dst, dicom_bytes(ds))
            self.summary.phi["DICOM attributes"] += (dicom.removed + dicom.emptied
                                                     + dicom.dummied + dicom.shifted)
            self.summary.phi["DICOM UIDs"] += dicom.uids
            self.summary.phi["DICOM private"] += dicom.private
            self.summary.dicom_burned_in += dicom.burned_in
        self.summary.files[kind] += 1

    def _check_order(self, text: str) -> None:
        if self.replacer.dates != "tag" and date_order_doubt(text, self.replacer.day_first):
            self.summary.date_order_doubt += 1


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
    except ValueError:
        return False
    return True


def deidentify_path(source: str | Path, out: str | Path, lang: str = "auto",
                    mode: Mode = "tag", key: bytes | str | None = None,
                    dates: DateMode = "shift", overwrite: bool = False,
                    day_first: bool = False, reference_year: int | None = None,
                    keep: Iterable[str] = (), statistical: bool | None = None) -> Summary:
    """De-identify a file or a folder of files into ``out``.

    A text file (``.txt``) goes through the free-text de-identifier, a table (``.csv``,
    ``.tsv``) through :func:`deidentify_frame`, a DICOM file (``.dcm``) through the basic
    profile.  A folder is mirrored: every supported file under it is written to the same
    relative path under ``out`` (other files are skipped and counted).  All output of a
    folder is written into a hidden staging folder next to ``out`` and renamed into place
    at the end, so a failure leaves no partial output; a single file is written atomically.

    Parameters
    ----------
    source : path
        A file or a folder.
    out : path
        The output file or folder; must not exist unless ``overwrite``.
    lang, mode, key, dates, day_first, reference_year, keep, statistical
        As for :func:`deidentify_text`.  DICOM dates follow the basic profile (emptied or
        dummied, year included) unless ``dates`` is ``"shift"``, then they are shifted like
        text dates.  One key serves all files, so pseudonyms, date offsets and DICOM UIDs
        agree across them.
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    Summary
        Counts per file kind and PHI type, column roles per table, skipped files.

    Raises
    ------
    DataNotFoundError
        ``source`` does not exist, or a folder holds no supported file.
    ConfigError
        ``out`` is ``source`` or inside it, exists without ``overwrite``, or a single
        file has an unsupported type.
    DataError
        A file is not UTF-8, not a readable CSV or not a readable DICOM file.
    """
    src, dst = Path(source), Path(out)
    if not src.exists():
        raise DataNotFoundError(f"--in {src}: no such file or folder")
    src_r, dst_r = src.resolve(), dst.resolve()
    if src_r == dst_r:
        raise ConfigError(f"--out {dst} is the input itself; choose another path")
    if src.is_dir() and _inside(dst_r, src_r):
        raise ConfigError(f"--out {dst} is inside the input folder {src}")
    if dst.exists() and _inside(src_r, dst_r):
        raise ConfigError(f"--out {dst} contains the input {src}; it would be overwritten")
    if dst.exists() and not overwrite:
        raise ConfigError(f"--out {dst} exists; pass --overwrite to replace it")
    if dst.exists() and dst.is_dir() != src.is_dir():
        raise ConfigError(f"--out {dst} is a {'folder' if dst.is_dir() else 'file'} but the "
                          f"input is a {'folder' if src.is_dir() else 'file'}")
    check_date_mode(dates)
    keyed, ephemeral = make_keyed(key, mode)
    replacer = Replacer(keyed, mode, dates, day_first, reference_year, keep, statistical)
    summary = Summary(source=src, output=dst, ephemeral_key=ephemeral, mode=mode, dates=dates,
                      day_first=day_first, reference_year=replacer.reference_year,
                      keep=tuple(sorted(replacer.keep)), statistical=replacer.statistical)
    job = _Job(replacer, lang, dates, summary)
    if src.is_file():
        if src.suffix.lower() not in SUFFIXES:
            raise ConfigError(f"--in {src}: unsupported file type {src.suffix or '(none)'}; "
                              "expected .txt, .csv, .tsv or .dcm")
        job.one(src, dst, src.name)
        return summary
    files = sorted(p for p in src.rglob("*") if p.is_file())
    todo = [p for p in files if p.suffix.lower() in SUFFIXES]
    summary.skipped = len(files) - len(todo)
    if not todo:
        raise DataNotFoundError(f"--in {src}: no .txt, .csv, .tsv or .dcm files in the folder")
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dst.name}.staging-", dir=dst.parent))
    try:
        for path in todo:
            rel = path.relative_to(src)
            job.one(path, staging / rel, rel.as_posix())
        for folder in [staging, *(p for p in staging.rglob("*") if p.is_dir())]:
            folder.chmod(umask_mode(0o777))
        if dst.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
            os.rename(dst, trash / "old")
            os.rename(staging, dst)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(staging, dst)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary
