"""DICOM basic profile on the test files that ship with pydicom (CT_small, MR_small, rtplan)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from fedcare.deid import deidentify_dicom, deidentify_path
from fedcare.deid._dicom_profile import BASIC_PROFILE
from fedcare.exceptions import DataError

KEY = b"synthetic-test-key-0123456789abcdef"
FILES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm"]


def _testfile(name: str) -> Path:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} not available")
    return Path(str(path))


def _values(ds: Dataset) -> dict[int, Any]:
    """Every listed attribute with a non-empty value, at any depth (tag -> values)."""
    out: dict[int, list[Any]] = {}
    for elem in ds.iterall():
        if int(elem.tag) in BASIC_PROFILE and elem.VR != "SQ" and elem.value not in ("", None):
            out.setdefault(int(elem.tag), []).append(elem.value)
    return out


@pytest.mark.parametrize("name", FILES)
def test_profile_attributes_lose_their_values(name: str, tmp_path: Path) -> None:
    source = _testfile(name)
    before = pydicom.dcmread(source)
    _, report = deidentify_dicom(source, tmp_path / "out.dcm", key=KEY)
    after = pydicom.dcmread(tmp_path / "out.dcm")
    old, new = _values(before), _values(after)
    assert old, "the test file has profile attributes"
    for tag, values in old.items():
        for value in values:
            assert value not in new.get(tag, []), f"{tag:08X} kept its value"
    assert not any(elem.tag.is_private for elem in after.iterall())
    if "PixelData" in before:
        assert after.PixelData == before.PixelData
    assert after.PatientIdentityRemoved == "YES"
    assert after.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert after.DeidentificationMethodCodeSequence[0].CodingSchemeDesignator == "DCM"
    assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID
    assert after.SOPClassUID == before.SOPClassUID  # standard UIDs are kept
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        assert after[keyword].value.startswith("2.25.")
    assert report.uids >= 3


def _two_slices(tmp_path: Path) -> Path:
    """Two CT slices of one study: the second references the first (synthetic copies)."""
    folder = tmp_path / "study"
    folder.mkdir()
    first = pydicom.dcmread(_testfile("CT_small.dcm"))
    first.save_as(folder / "slice1.dcm")
    second = pydicom.dcmread(_testfile("CT_small.dcm"))
    second.SOPInstanceUID = second.SOPInstanceUID + ".2"
    second.file_meta.MediaStorageSOPInstanceUID = second.SOPInstanceUID
    ref = Dataset()
    ref.ReferencedSOPClassUID = first.SOPClassUID
    ref.ReferencedSOPInstanceUID = first.SOPInstanceUID
    second.ReferencedImageSequence = Sequence([ref])
    item = Dataset()
    item.CodeValue = "X1"
    item.InstitutionName = "Zyxwvut Hospital"
    second.ProcedureCodeSequence = Sequence([item])
    second.add_new(0x60003000, "OW", b"\x01" * 8)  # overlay data
    second.add_new(0x50000005, "US", 1)  # curve dimensions (retired curve group)
    second.save_as(folder / "slice2.dcm")
    return folder


def test_uids_consistent_across_files_of_a_study(tmp_path: Path) -> None:
    folder = _two_slices(tmp_path)
    summary = deidentify_path(folder, tmp_path / "out", key=KEY, dates="tag")
    assert summary.files == {"dicom": 2}
    one = pydicom.dcmread(tmp_path / "out" / "slice1.dcm")
    two = pydicom.dcmread(tmp_path / "out" / "slice2.dcm")
    original = pydicom.dcmread(folder / "slice1.dcm")
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert one[keyword].value == two[keyword].value != original[keyword].value
    assert one.SOPInstanceUID != two.SOPInstanceUID
    assert two.ReferencedImageSequence[0].ReferencedSOPInstanceUID == one.SOPInstanceUID
    assert two.ProcedureCodeSequence[0].InstitutionName == ""  # nested attributes cleaned
    assert 0x60003000 not in two and 0x50000005 not in two  # overlay data, curves removed
    again = deidentify_path(folder, tmp_path / "again", key=KEY)
    assert again.files == {"dicom": 2}
    assert pydicom.dcmread(tmp_path / "again" / "slice1.dcm").StudyInstanceUID == \
        one.StudyInstanceUID  # the same key gives the same UIDs
    deidentify_path(folder, tmp_path / "other", key=b"another-synthetic-key-0123456789")
    assert pydicom.dcmread(tmp_path / "other" / "slice1.dcm").StudyInstanceUID != \
        one.StudyInstanceUID


def test_pseudonym_mode_and_shifted_dates(tmp_path: Path) -> None:
    folder = _two_slices(tmp_path)
    deidentify_path(folder, tmp_path / "out", key=KEY, mode="pseudonym", dates="shift")
    one = pydicom.dcmread(tmp_path / "out" / "slice1.dcm")
    two = pydicom.dcmread(tmp_path / "out" / "slice2.dcm")
    original = pydicom.dcmread(folder / "slice1.dcm")
    assert one.PatientID == two.PatientID and one.PatientID not in ("", original.PatientID)
    assert str(one.PatientName) == str(two.PatientName) != str(original.PatientName)

    def day(value: str) -> dt.date:
        return dt.datetime.strptime(value, "%Y%m%d").date()

    shift = day(one.StudyDate) - day(original.StudyDate)
    assert shift.days != 0 and abs(shift.days) <= 365
    assert day(one.SeriesDate) - day(original.SeriesDate) == shift  # intervals kept
    assert one.StudyTime == ""  # times still follow the profile
    codes = [item.CodeValue for item in one.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113107"]
    assert one.LongitudinalTemporalInformationModified == "MODIFIED"


def test_not_a_dicom_file(tmp_path: Path) -> None:
    bad = tmp_path / "fake.dcm"
    bad.write_bytes(b"Zyxwvut is not an image")
    with pytest.raises(DataError, match=r"fake\.dcm: not a DICOM file") as info:
        deidentify_dicom(bad, tmp_path / "o.dcm", key=KEY)
    assert "Zyxwvut" not in str(info.value)
    assert not (tmp_path / "o.dcm").exists()
