"""DICOM de-identification: PS3.15 Annex E basic profile with pydicom.

Actions per attribute come from ``BASIC_PROFILE`` (Table E.1-1).  Where the table allows a
choice the de-identifier takes Z when allowed, else D, else X (it cannot see the IOD's
attribute types): an attribute marked X/Z is emptied, X/D gets a dummy, X/Z/D and Z/D are
emptied.  Sequences marked anything but X or X/Z/U* are emptied (zero items).  UIDs (U,
and every other non-standard UID, including those inside sequences) are replaced by
``2.25.<keyed hash>`` so that files of one study keep sharing their Study/Series/Frame of
Reference UIDs.  All private attributes, curves (50xx) and overlay data/comments
(60xx,3000/4000) are removed.  Pixel data are not touched (burned-in text is not
detected; files that say BurnedInAnnotation=YES are counted in the report).

Options:

* ``mode="pseudonym"``: PatientName/PatientID get keyed pseudonyms (consistent across
  files of one patient) instead of empty values.
* ``dates="shift"``: DA/DT values the profile would empty or replace are shifted by the
  patient's keyed day offset instead (Retain Longitudinal Temporal Information with
  Modified Dates Option, code 113107); PatientBirthDate is still emptied.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedcare._io import write_bytes_atomic
from fedcare.deid._common import Keyed, Mode
from fedcare.deid._dicom_profile import BASIC_PROFILE, CODE_BASIC, CODE_MODIFIED_DATES
from fedcare.deid._text import DateMode, make_keyed
from fedcare.exceptions import DataError

__all__ = ["DicomReport", "deidentify_dataset", "deidentify_dicom"]

_DUMMY_TEXT = "ANONYMOUS"
_DUMMY = {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000D",
          "PN": _DUMMY_TEXT, "UR": "urn:x-fedcare:removed"}
_NUMERIC_VR = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV", "IS", "DS", "AT"}
_BYTES_VR = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}
_KEEP_UID_SUFFIXES = ("ClassUID", "SyntaxUID", "CodingSchemeUID", "ImplementationClassUID",
                      "PrivateInformationCreatorUID", "ContextUID", "MappingResourceUID")


@dataclass
class DicomReport:
    """What happened to one data set (counts only, never values)."""

    removed: int = 0
    emptied: int = 0
    dummied: int = 0
    uids: int = 0
    shifted: int = 0
    private: int = 0
    burned_in: bool = False
    actions: dict[str, int] = field(default_factory=dict)


def _choose(action: str) -> str:
    """The action taken where the table leaves a choice (Z, then D, then X)."""
    if action == "X/Z/U*":
        return "U*"
    options = action.split("/")
    for preferred in ("Z", "D", "X", "U"):
        if preferred in options:
            return preferred
    return options[0]


def _is_curve_or_overlay(tag: Any) -> bool:
    group, element = tag.group, tag.element
    if 0x5000 <= group <= 0x50FF and group % 2 == 0:
        return True
    return 0x6000 <= group <= 0x60FF and group % 2 == 0 and element in (0x3000, 0x4000)


def _standard_uid(value: str, keyword: str) -> bool:
    from pydicom._uid_dict import UID_dictionary

    return value in UID_dictionary or keyword.endswith(_KEEP_UID_SUFFIXES)


class _Cleaner:
    def __init__(self, keyed: Keyed, mode: Mode, dates: DateMode, offset: int) -> None:
        self.keyed, self.mode, self.dates, self.offset = keyed, mode, dates, offset
        self.report = DicomReport()

    def _count(self, action: str) -> None:
        self.report.actions[action] = self.report.actions.get(action, 0) + 1

    def uid(self, value: str) -> str:
        self.report.uids += 1
        return self.keyed.uid(value)

    def _shift(self, vr: str, value: Any) -> Any:
        def one(v: str) -> str:
            text = str(v)
            if len(text) < 8 or not text[:8].isdigit():
                return text
            try:
                day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
            except ValueError:
                return _DUMMY[vr]
            return (day + dt.timedelta(days=self.offset)).strftime("%Y%m%d") + text[8:]

        if value is None or value == "":
            return value
        if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
            return [one(v) for v in value]
        return one(value)

    def dataset(self, ds: Any, top: bool = True) -> None:
        from pydicom.datadict import keyword_for_tag

        for elem in list(ds):
            tag = elem.tag
            if tag.is_private:
                del ds[tag]
                self.report.private += 1
                continue
            if _is_curve_or_overlay(tag):
                del ds[tag]
                self.report.removed += 1
                self._count("X")
                continue
            action = BASIC_PROFILE.get(int(tag))
            keyword = keyword_for_tag(tag) or ""
            if action is None:
                if elem.VR == "SQ":
                    for item in elem.value:
                        self.dataset(item, top=False)
                elif elem.VR == "UI" and elem.value:
                    self._uid_element(elem, keyword)
                continue
            self._apply(ds, elem, _choose(action), keyword, top)

    def _uid_element(self, elem: Any, keyword: str) -> None:
        values = elem.value if elem.VM > 1 else [elem.value]
        new = [v if _standard_uid(str(v), keyword) else self.uid(str(v)) for v in values]
        elem.value = new if elem.VM > 1 else new[0]

    def _apply(self, ds: Any, elem: Any, action: str, keyword: str, top: bool) -> None:
        vr = elem.VR
        self._count(action)
        if action == "X":
            del ds[elem.tag]
            self.report.removed += 1
            return
        if vr == "SQ":
            if action == "U*":
                for item in elem.value:
                    self.dataset(item, top=False)
            else:
                elem.value = []
                self.report.emptied += 1
            return
        if action in ("U", "U*"):
            if elem.value:
                values = elem.value if elem.VM > 1 else [elem.value]
                new = [self.uid(str(v)) for v in values]
                elem.value = new if elem.VM > 1 else new[0]
            return
        if self.dates == "shift" and vr in ("DA", "DT") and keyword != "PatientBirthDate":
            elem.value = self._shift(vr, elem.value)
            self.report.shifted += 1
            return
        if self.mode == "pseudonym" and top and keyword in ("PatientName", "PatientID") \
                and elem.value:
            digest = self.keyed.digest("dicom-patient", str(ds.get("PatientID", "")) or
                                       str(elem.value)).hex()
            elem.value = f"ANON-{digest[:12]}" if keyword == "PatientName" else digest[:16]
            self.report.dummied += 1
            return
        if action == "Z":
            elem.value = b"" if vr in _BYTES_VR else None if vr in _NUMERIC_VR else ""
            self.report.emptied += 1
            return
        # D: a dummy value of the right representation
        if vr in _NUMERIC_VR:
            elem.value = 0 if vr not in ("IS", "DS") else "0"
        elif vr in _BYTES_VR:
            elem.value = b"\x00\x00"
        elif vr == "UI":
            elem.value = self.uid(str(elem.value or "dummy"))
        else:
            elem.value = _DUMMY.get(vr, _DUMMY_TEXT)
        self.report.dummied += 1


def deidentify_dataset(ds: Any, key: bytes | str | None = None, mode: Mode = "tag",
                       dates: DateMode = "tag",
                       keyed: Keyed | None = None) -> tuple[Any, DicomReport]:
    """Apply the basic profile to a pydicom ``Dataset`` in place.

    Parameters
    ----------
    ds : pydicom.Dataset
        The data set (with ``file_meta`` when read from a file).
    key : bytes or str, optional
        Secret key for UIDs, pseudonyms and date offsets; without one (tag mode only) a
        random key, so UIDs are consistent within this call only.
    mode : {"tag", "pseudonym"}
        ``pseudonym``: PatientName/PatientID become keyed pseudonyms, else emptied.
    dates : {"tag", "shift"}
        ``tag`` (default): the profile's actions (dates emptied or dummied); ``shift``:
        dates shifted by the patient's keyed offset (option 113107).
    keyed : Keyed, optional
        Share one key across files (used by :func:`deidentify_path`).

    Returns
    -------
    (Dataset, DicomReport)
    """
    from pydicom.dataset import Dataset

    if keyed is None:
        keyed, _ = make_keyed(key, mode)
    patient = str(ds.get("PatientID", "") or ds.get("PatientName", "") or "")
    cleaner = _Cleaner(keyed, mode, dates, keyed.day_offset(f"DICOM:{patient}"))
    cleaner.report.burned_in = str(ds.get("BurnedInAnnotation", "")).upper() == "YES"
    cleaner.dataset(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for tag in list(meta.keys()):
            if tag in (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102):
                del meta[tag]  # application entity titles, private information
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientIdentityRemoved = "YES"
    method = "fedcare deid: DICOM PS3.15 E.1-1 basic profile"
    codes = [CODE_BASIC]
    if dates == "shift":
        method += ", modified dates"
        codes.append(CODE_MODIFIED_DATES)
    ds.DeidentificationMethod = method
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = items
    ds.LongitudinalTemporalInformationModified = "MODIFIED" if dates == "shift" else "REMOVED"
    return ds, cleaner.report


def read_dicom(path: Path) -> Any:
    """Read a DICOM file; errors name the file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path)
    except InvalidDicomError:
        raise DataError(f"{path}: not a DICOM file (no DICM preamble)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({type(exc).__name__})") from None
    except Exception as exc:  # pydicom raises assorted errors on corrupt files
        raise DataError(f"{path}: unreadable DICOM ({type(exc).__name__})") from None


def dicom_bytes(ds: Any) -> bytes:
    """The data set encoded as a DICOM file."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=getattr(ds, "preamble", None) is None)
    return buffer.getvalue()


def deidentify_dicom(source: str | Path | Any, out: str | Path | None = None,
                     key: bytes | str | None = None, mode: Mode = "tag",
                     dates: DateMode = "tag") -> tuple[Any, DicomReport]:
    """De-identify one DICOM file (or ``Dataset``) with the basic profile.

    Parameters
    ----------
    source : path or pydicom.Dataset
        A ``.dcm`` file or a data set (a data set is changed in place).
    out : path, optional
        Write the result here, atomically.
    key, mode, dates
        As for :func:`deidentify_dataset`.

    Returns
    -------
    (Dataset, DicomReport)

    Raises
    ------
    DataError
        ``source`` is not a readable DICOM file.
    """
    ds = read_dicom(Path(source)) if isinstance(source, str | os.PathLike) else source
    ds, report = deidentify_dataset(ds, key=key, mode=mode, dates=dates)
    if out is not None:
        write_bytes_atomic(Path(out), dicom_bytes(ds))
    return ds, report
