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
    # these files ship inside pydicom's wheel (a dependency): missing means a broken install
    path = get_testdata_file(name, download=False)
    assert path is not None, f"pydicom test file {name} not installed"
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


#: PS3.15 (2024) Annex E, Table E.1-1, basic-profile column, for well-known attributes:
#: written from the standard for this test, independently of ``_dicom_profile.py``.
#: D dummy value, Z zero length (or dummy), X remove, U new UID; "X/Z" etc. either.
ANNEX_E: list[tuple[int, str, str]] = [
    (0x00080014, "InstanceCreatorUID", "U"),
    (0x00080018, "SOPInstanceUID", "U"),
    (0x00080020, "StudyDate", "Z"),
    (0x00080021, "SeriesDate", "X/D"),
    (0x00080022, "AcquisitionDate", "X/Z"),  # X/D in editions before 2017
    (0x00080023, "ContentDate", "Z/D"),
    (0x00080030, "StudyTime", "Z"),
    (0x00080031, "SeriesTime", "X/D"),
    (0x00080032, "AcquisitionTime", "X/Z"),  # X/D in editions before 2017
    (0x00080033, "ContentTime", "Z/D"),
    (0x00080050, "AccessionNumber", "Z"),
    (0x00080080, "InstitutionName", "X/Z/D"),
    (0x00080081, "InstitutionAddress", "X"),
    (0x00080090, "ReferringPhysicianName", "Z"),
    (0x00080092, "ReferringPhysicianAddress", "X"),
    (0x00080094, "ReferringPhysicianTelephoneNumbers", "X"),
    (0x00081010, "StationName", "X/Z/D"),
    (0x00081030, "StudyDescription", "X"),
    (0x0008103E, "SeriesDescription", "X"),
    (0x00081040, "InstitutionalDepartmentName", "X"),
    (0x00081048, "PhysiciansOfRecord", "X"),
    (0x00081050, "PerformingPhysicianName", "X"),
    (0x00081060, "NameOfPhysiciansReadingStudy", "X"),
    (0x00081070, "OperatorsName", "X/Z/D"),
    (0x00081080, "AdmittingDiagnosesDescription", "X"),
    (0x00081155, "ReferencedSOPInstanceUID", "U"),
    (0x00082111, "DerivationDescription", "X"),
    (0x00100010, "PatientName", "Z"),
    (0x00100020, "PatientID", "Z"),
    (0x00100030, "PatientBirthDate", "Z"),
    (0x00100032, "PatientBirthTime", "X"),
    (0x00100040, "PatientSex", "Z"),
    (0x00101000, "OtherPatientIDs", "X"),
    (0x00101001, "OtherPatientNames", "X"),
    (0x00101010, "PatientAge", "X"),
    (0x00101020, "PatientSize", "X"),
    (0x00101030, "PatientWeight", "X"),
    (0x00101040, "PatientAddress", "X"),
    (0x00101060, "PatientMotherBirthName", "X"),
    (0x00102154, "PatientTelephoneNumbers", "X"),
    (0x00102160, "EthnicGroup", "X"),
    (0x00102180, "Occupation", "X"),
    (0x001021B0, "AdditionalPatientHistory", "X"),
    (0x00104000, "PatientComments", "X"),
    (0x00181000, "DeviceSerialNumber", "X/Z/D"),
    (0x00181030, "ProtocolName", "X/D"),
    (0x0020000D, "StudyInstanceUID", "U"),
    (0x0020000E, "SeriesInstanceUID", "U"),
    (0x00200010, "StudyID", "Z"),
    (0x00200052, "FrameOfReferenceUID", "U"),
    (0x00204000, "ImageComments", "X"),
    (0x00321032, "RequestingPhysician", "X"),
    (0x00380010, "AdmissionID", "X"),
    (0x00400244, "PerformedProcedureStepStartDate", "X"),
    (0x00400253, "PerformedProcedureStepID", "X"),
    (0x00400254, "PerformedProcedureStepDescription", "X"),
    (0x00402016, "PlacerOrderNumberImagingServiceRequest", "Z"),
    (0x00402017, "FillerOrderNumberImagingServiceRequest", "Z"),
    (0x30060024, "ReferencedFrameOfReferenceUID", "U"),
]
ROLES = {"PN": "Zyxwvut^Synthetic", "DA": "20010203", "TM": "101112", "DT": "20010203101112",
         "UI": "1.2.826.0.1.3680043.2.1125.99.1", "AS": "042Y", "DS": "71.5", "IS": "7",
         "CS": "ZYXW", "UT": "Zyxwvut synthetic text", "LT": "Zyxwvut synthetic text",
         "ST": "Zyxwvut synthetic text", "SH": "ZYX-0042", "LO": "Zyxwvut synthetic"}


def test_annex_e_table_names_the_standard_attributes() -> None:
    from pydicom.datadict import keyword_for_tag

    assert len(ANNEX_E) >= 40
    for tag, keyword, _ in ANNEX_E:  # the hand-written tags are the keywords' tags
        assert keyword_for_tag(tag) == keyword, f"{tag:08X}"


def _with_every_listed_attribute() -> Dataset:
    """CT_small with every ANNEX_E attribute (absent or not) set to a synthetic value."""
    from pydicom.datadict import dictionary_VR

    ds = pydicom.dcmread(_testfile("CT_small.dcm"))
    for tag, keyword, _ in ANNEX_E:
        if keyword not in ds:
            vr = dictionary_VR(tag)
            ds.add_new(tag, vr, ROLES[vr])
    return ds


def _check_annex_e(before: Dataset, after: Dataset) -> list[str]:
    """Every ANNEX_E attribute of ``before`` treated as its action allows in ``after``."""
    wrong = []
    for tag, keyword, action in ANNEX_E:
        if tag not in before:
            continue
        old = before[tag].value
        elem = after.get(tag)
        new = None if elem is None else elem.value
        if elem is None:
            outcome = "X"
        elif new in ("", None) or (hasattr(new, "__len__") and len(new) == 0):
            outcome = "Z"
        elif str(new) != str(old):
            outcome = "U" if action == "U" and elem.VR == "UI" else "D"
        else:
            outcome = "kept"
        if outcome not in action.split("/"):
            wrong.append(f"{keyword} ({tag:08X}) action {action}: {outcome}")
        if action == "U" and outcome == "U":
            assert str(new).startswith("2.25."), keyword
    # and nowhere deeper: no removed attribute, no original UID in any sequence item
    old_uids = {str(e.value) for e in before.iterall() if e.VR == "UI"}
    for elem in after.iterall():
        action = dict((t, a) for t, _, a in ANNEX_E).get(int(elem.tag))
        if action == "X":
            wrong.append(f"{elem.keyword} left in a sequence item")
        elif action == "U" and str(elem.value) in old_uids:
            wrong.append(f"{elem.keyword} kept an original UID")
    return wrong


@pytest.mark.parametrize("name", [*FILES, "rtdose.dcm", "waveform_ecg.dcm", "JPEG2000.dcm",
                                  "image_dfl.dcm"])
def test_annex_e_actions_on_pydicom_files(name: str, tmp_path: Path) -> None:
    source = _testfile(name)
    before = pydicom.dcmread(source)
    deidentify_dicom(source, tmp_path / "out.dcm", key=KEY)
    after = pydicom.dcmread(tmp_path / "out.dcm")
    assert any(tag in before for tag, _, _ in ANNEX_E)
    assert _check_annex_e(before, after) == []


def test_annex_e_actions_on_every_listed_attribute(tmp_path: Path) -> None:
    ds = _with_every_listed_attribute()
    ds.save_as(tmp_path / "full.dcm")
    before = pydicom.dcmread(tmp_path / "full.dcm")
    assert all(tag in before for tag, _, _ in ANNEX_E)
    deidentify_dicom(tmp_path / "full.dcm", tmp_path / "out.dcm", key=KEY)
    after = pydicom.dcmread(tmp_path / "out.dcm")
    assert _check_annex_e(before, after) == []
