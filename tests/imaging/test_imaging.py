"""Image studies: DICOM ingestion, checks, de-identification, the CNN, the federated run.

Every image here is synthetic (``fedcare.imaging.write_synthetic_study``), except the
real DICOM files that ship with pydicom (no labels), read by the ingestion test.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from typer.testing import CliRunner

from fedcare.cli import app
from fedcare.config import StudyConfig
from fedcare.exceptions import ConfigError, DataError, DataNotFoundError
from fedcare.federation import run_inprocess
from fedcare.imaging import (
    LEFT_OUT,
    CNNClassifier,
    ScannerSite,
    occlusion_saliency,
    read_image_cohort,
    scan_dicom_folder,
    write_synthetic_study,
)
from fedcare.models import MinibatchSGD
from fedcare.privacy import DPSGD

SMALL = (
    ScannerSite("site-a", 40, 0.5, 25.0, 0.0, 0.0, (5.0, 5.0), 64),
    ScannerSite("site-b", 36, 0.5, 40.0, 0.6, 20.0, (5.5, 5.5), 60, intercept=0.0),
    ScannerSite("site-c", 30, 0.5, 50.0, 0.0, -10.0, (4.8, 4.8), 72),
)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    write_synthetic_study(folder, seed=3, sites=SMALL)
    return folder


def _config(study: Path, **changes: object) -> StudyConfig:
    settings: dict[str, object] = dict(
        data=str(study / "labels.csv"), images=str(study / "images"), model="cnn",
        standardise="none", strategy="fedavg", rounds=2, local_steps=4, lr=0.003,
        batch_size=16, target="label", test_size=0.4, image_size=32)
    settings.update(changes)
    return StudyConfig(**settings)  # type: ignore[arg-type]


def _identities(study: Path) -> set[str]:
    """Every name, ID, institution and serial the synthetic files carry."""
    found: set[str] = set()
    for path in (study / "images").rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        found |= {str(ds.PatientName), str(ds.PatientName).split("^")[0], str(ds.PatientID),
                  str(ds.InstitutionName), str(ds.PatientBirthDate)}
        found |= {str(e.value) for e in ds.iterall() if e.tag.is_private and e.VR == "LO"}
    return {f for f in found if len(f) >= 4}


# -- ingestion --------------------------------------------------------------------------
def test_cohort_matches_the_labels_and_every_file_is_deidentified(study: Path) -> None:
    cohort = read_image_cohort(study / "images", study / "labels.csv", size=32)
    with (study / "labels.csv").open() as fh:
        rows = {r["file"]: (r["site"], int(r["label"])) for r in csv.DictReader(fh)}
    assert cohort.images.shape == (len(rows), 1, 32, 32)
    assert cohort.images.dtype == np.float32
    assert cohort.images.min() >= 0.0 and cohort.images.max() <= 1.0
    for file, site, label in zip(cohort.files, cohort.sites, cohort.y, strict=True):
        assert rows[file] == (site, label)
    private = {f.site: f.count for f in cohort.findings if f.kind == "private-tags"}
    assert private == {s.name: s.n for s in SMALL}
    assert not any(f.left_out for f in cohort.findings)
    assert cohort.deid_actions >= 5 * len(rows)  # names, IDs, dates, UIDs, private tags


def _damaged_copy(study: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of site-a's export with one corrupt file, one MR, one with burned-in text,
    one with non-square pixels and one listed but missing."""
    images = tmp_path / "images"
    shutil.copytree(study / "images" / "site-a", images / "site-a")
    files = sorted((images / "site-a").glob("*.dcm"))
    files[0].write_bytes(b"DICM" + os.urandom(300))
    for path, change in ((files[1], {"Modality": "MR"}),
                         (files[2], {"BurnedInAnnotation": "YES"}),
                         (files[3], {"PixelSpacing": ["5.0", "7.5"]})):
        ds = pydicom.dcmread(path)
        for key, value in change.items():
            setattr(ds, key, value)
        ds.save_as(path)
    files[4].unlink()
    labels = tmp_path / "labels.csv"
    with (study / "labels.csv").open() as src, labels.open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        writer.writerows(r for r in reader if r["site"] == "site-a")
    return images, labels


def test_damaged_files_are_left_out_and_counted(study: Path, tmp_path: Path) -> None:
    images, labels = _damaged_copy(study, tmp_path)
    cohort = read_image_cohort(images, labels, size=32)
    found = {f.kind: (f.count, f.left_out) for f in cohort.findings}
    assert found["unreadable"] == (1, True)
    assert found["modality"] == (1, True)
    assert found["burned-in"] == (1, True)
    assert found["missing-file"] == (1, True)
    assert found["non-square-pixels"] == (1, False)  # kept, resampled to square pixels
    assert len(cohort.y) == 40 - 4
    # accepting MR as well keeps that file
    both = read_image_cohort(images, labels, size=32, modality=("CT", "MR"))
    assert len(both.y) == 40 - 3


def test_bad_labels_tables_get_clear_errors(study: Path, tmp_path: Path) -> None:
    images = study / "images"
    bad = tmp_path / "labels.csv"
    bad.write_text("file,site,label\nsite-a/0000.dcm,site-a,2\n")
    with pytest.raises(DataError, match=r"row 2, column 'label': expected 0 or 1"):
        read_image_cohort(images, bad)
    bad.write_text("path,site,label\nsite-a/0000.dcm,site-a,1\n")
    with pytest.raises(DataError, match=r"no file column 'file'"):
        read_image_cohort(images, bad)
    bad.write_text("file,site,label\n../../etc/passwd,site-a,1\n")
    with pytest.raises(DataError, match=r"row 2, column 'file': the path leaves the image"):
        read_image_cohort(images, bad)
    with pytest.raises(DataNotFoundError, match="image folder not found"):
        read_image_cohort(tmp_path / "nowhere", bad)
    only_bad = tmp_path / "one"
    (only_bad / "x").mkdir(parents=True)
    (only_bad / "x" / "a.dcm").write_bytes(b"not dicom")
    bad.write_text("file,site,label\nx/a.dcm,x,1\n")
    with pytest.raises(DataError, match=r"site 'x': none of its 1 files is a usable slice"):
        read_image_cohort(only_bad, bad)


def test_pydicom_test_files_are_read_or_counted_never_crash() -> None:
    folder = Path(pydicom.__file__).parent / "data" / "test_files"
    files, usable, findings, seconds = scan_dicom_folder(folder, size=32)
    kinds = {f.kind: f.count for f in findings}
    assert files >= 50 and 5 <= usable < files
    assert kinds.get("not-a-slice", 0) > 0 and kinds.get("no-pixels", 0) > 0
    assert kinds.get("unreadable", 0) > 0
    assert sum(kinds.get(k, 0) for k in LEFT_OUT) == files - usable
    assert seconds > 0


# -- the network --------------------------------------------------------------------------
def test_cnn_arrays_round_trip_and_training_changes_them(study: Path) -> None:
    cohort = read_image_cohort(study / "images", study / "labels.csv", size=32)
    X, y = cohort.flat(), cohort.y
    model = CNNClassifier(epochs=2, random_state=1).fit(X, y)
    p = model.predict_proba(X)
    assert p.shape == (len(y), 2) and np.allclose(p.sum(axis=1), 1.0)
    copy = CNNClassifier().set_arrays(model.get_arrays())
    assert np.allclose(copy.decision_function(X), model.decision_function(X), atol=1e-6)
    start = CNNClassifier(random_state=1).init_arrays(X.shape[1])
    assert all(np.array_equal(a, b) for a, b in zip(
        start, CNNClassifier(random_state=1).init_arrays(X.shape[1]), strict=True))
    plain = CNNClassifier().set_arrays(start).local_update(
        X, y, steps=3, seed=0, optimiser=MinibatchSGD(16)).get_arrays()
    private = CNNClassifier().set_arrays(start).local_update(
        X, y, steps=3, seed=0, optimiser=DPSGD(noise_multiplier=1.0, max_grad_norm=1.0,
                                               sample_rate=0.2)).get_arrays()
    assert not all(np.allclose(a, b) for a, b in zip(start, plain, strict=True))
    assert not all(np.allclose(a, b) for a, b in zip(plain, private, strict=True))
    with pytest.raises(ValueError, match="square slices"):
        CNNClassifier().fit(np.zeros((4, 30)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="NaN"):
        model.predict_proba(np.full((1, X.shape[1]), np.nan))


def test_occlusion_saliency_is_a_map_in_zero_one(study: Path) -> None:
    cohort = read_image_cohort(study / "images", study / "labels.csv", size=32)
    model = CNNClassifier(epochs=2).fit(cohort.flat(), cohort.y)
    saliency, p = occlusion_saliency(model, cohort.images[0])
    assert saliency.shape == (32, 32)
    assert saliency.min() >= 0.0 and saliency.max() <= 1.0
    assert p == pytest.approx(model.predict_proba(cohort.flat()[:1])[0, 1], abs=1e-5)


# -- the federated study --------------------------------------------------------------------
def test_sites_send_no_pixels_and_no_identifiers(study: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    config = _config(study)
    caplog.set_level(logging.DEBUG)
    result, grid = run_inprocess(config, [s.name for s in SMALL], keep_messages=True)
    shapes = {a.shape for a in CNNClassifier().init_arrays(32 * 32)}
    identities = _identities(study)
    assert identities
    assert grid.replies_received
    for reply in grid.replies_received:
        assert not reply.has_error()
        content = reply.content
        for record in content.array_records.values():
            for array in record.to_numpy_ndarrays():
                assert array.shape in shapes, array.shape  # model arrays, never slices
        texts = " ".join(str(v) for r in content.config_records.values() for v in r.values())
        assert not [i for i in identities if i in texts]
        for record in content.metric_records.values():
            assert all(isinstance(v, int | float) for v in record.values())
    assert not [i for i in identities if i in caplog.text]
    assert set(result["per_site"]["federated"]) == {s.name for s in SMALL}


def test_dp_sgd_and_secure_aggregation_apply_to_images(study: Path) -> None:
    config = _config(study, dp_epsilon=5.0, dp_max_grad_norm=1.0)
    result, _ = run_inprocess(config, [s.name for s in SMALL])
    spent = [m["dp-epsilon"] for m in result["per_site"]["federated"].values()]
    assert all(0 < e <= 5.0 + 1e-6 for e in spent)
    secure, _ = run_inprocess(_config(study, secure_aggregation=True),
                              [s.name for s in SMALL])
    plain, _ = run_inprocess(_config(study), [s.name for s in SMALL])
    for a, b in zip(secure["arrays"], plain["arrays"], strict=True):
        assert np.allclose(np.asarray(a), np.asarray(b), atol=1e-3)


def test_run_study_compares_settings_and_shows_saliency(study: Path) -> None:
    from fedcare.study import run_study

    metrics = run_study(_config(study)).to_dict()
    assert set(metrics["results"]) == {"local", "federated:fedavg", "personalised:fedavg",
                                       "pooled"}
    for setting in metrics["results"].values():
        assert set(setting["per_site"]) == {s.name for s in SMALL}
    images = metrics["images"]
    assert images["synthetic"] is True and images["size"] == 32
    assert {(s["site"], s["label"]) for s in images["saliency"]} == {
        (s.name, label) for s in SMALL for label in (0, 1)}
    assert metrics["quality"]["check"] == "images"


def test_config_and_cli_refuse_half_an_image_study(study: Path) -> None:
    with pytest.raises(ConfigError, match="needs model 'cnn'"):
        StudyConfig(images=str(study / "images"), data=str(study / "labels.csv"),
                    standardise="none")
    with pytest.raises(ConfigError, match="model 'cnn' reads images"):
        StudyConfig(model="cnn", strategy="fedavg")
    runner = CliRunner()
    result = runner.invoke(app, ["study", "run", "--images", str(study / "images")])
    assert result.exit_code == ConfigError.exit_code
    assert "needs both --images DIR and --labels FILE" in result.output
    bad = study / "bad-labels.csv"
    bad.write_text("file,site,outcome\n")
    result = runner.invoke(app, ["study", "run", "--images", str(study / "images"),
                                 "--labels", str(bad)])
    assert result.exit_code == DataError.exit_code
    assert "no label column 'label'" in result.output
    assert "Traceback" not in result.output


def test_robust_aggregation_applies_to_images(study: Path) -> None:
    result, _ = run_inprocess(_config(study, aggregation="trimmed-mean", trim_fraction=0.34),
                              [s.name for s in SMALL])
    shapes = [a.shape for a in CNNClassifier().init_arrays(32 * 32)]
    assert [np.asarray(a).shape for a in result["arrays"]] == shapes


def test_check_images_command_counts_findings(study: Path, tmp_path: Path) -> None:
    import json

    images, labels = _damaged_copy(study, tmp_path)
    out = tmp_path / "checks.json"
    result = CliRunner().invoke(app, ["data", "check-images", "--images", str(images),
                                      "--labels", str(labels), "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["usable"] == {"site-a": 36}
    kinds = {f["kind"]: f["count"] for f in report["findings"]}
    assert kinds["unreadable"] == kinds["modality"] == kinds["burned-in"] == 1
    assert "left out" in result.output
    folder = Path(pydicom.__file__).parent / "data" / "test_files"
    result = CliRunner().invoke(app, ["data", "check-images", "--images", str(folder),
                                      "--modality", "any"])
    assert result.exit_code == 0 and "not-a-slice" in result.output


def test_every_image_message_is_in_a_verified_audit_log(study: Path, tmp_path: Path) -> None:
    from fedcare.privacy._audit import verify_log

    audit = tmp_path / "audit"
    run_inprocess(_config(study, audit_dir=str(audit)), [s.name for s in SMALL])
    for site in SMALL:
        summary = verify_log(audit / f"site-{site.name}.jsonl")
        assert summary.by_direction["received"] == summary.by_direction["sent"] > 0
        assert {"query.schema", "train"} <= set(summary.by_type)
    coordinator = verify_log(audit / "coordinator.jsonl")
    assert coordinator.records == sum(
        verify_log(audit / f"site-{s.name}.jsonl").records for s in SMALL)


def test_a_labels_table_with_its_own_column_names(study: Path, tmp_path: Path) -> None:
    """A hospital's table says path / hospital / finding, not file / site / label."""
    with (study / "labels.csv").open() as src:
        rows = list(csv.DictReader(src))
    own = tmp_path / "own.csv"
    with own.open("w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(["finding", "hospital", "path"])
        writer.writerows([r["label"], r["site"], r["file"]] for r in rows)
    config = _config(study, data=str(own), file_column="path", site_column="hospital",
                     target="finding")
    result, _ = run_inprocess(config, [s.name for s in SMALL])
    assert set(result["per_site"]["federated"]) == {s.name for s in SMALL}
    out = CliRunner().invoke(app, ["data", "check-images", "--images", str(study / "images"),
                                   "--labels", str(own), "--file-column", "path",
                                   "--site-column", "hospital", "--target", "finding"])
    assert out.exit_code == 0, out.output
    assert "site-a: 40 usable slices" in out.output


def _dx_file(path: Path, *, truncate: bool = False) -> None:
    """A projection X-ray-like file: stored values 0-4095, no HU scale (synthetic)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(0)
    pixels = np.clip(rng.normal(2000, 300, (50, 40)), 0, 4095).astype(np.uint16)
    pixels[20:26, 18:24] = 3500  # a bright finding
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, generate_uid()
    ds.Modality, ds.PatientName, ds.PatientID = "DX", "Invented^Person", "DX0001"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = 50, 40, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.ImagerPixelSpacing = ["0.2", "0.2"]
    data = pixels.tobytes()
    ds.PixelData = data[: len(data) // 2] if truncate else data
    ds.save_as(path, enforce_file_format=True)


def test_a_non_ct_slice_is_scaled_by_its_own_percentiles(tmp_path: Path) -> None:
    from fedcare.imaging import load_slice

    path = tmp_path / "dx.dcm"
    _dx_file(path)
    auto = load_slice(path, modality=("DX",), size=32)
    assert auto.image is not None and "saturated" not in auto.findings
    assert 0.2 < float(np.median(auto.image)) < 0.8  # the body is not all white
    as_ct = load_slice(path, modality=("DX",), size=32, window=(-1000.0, 400.0))
    assert "saturated" in as_ct.findings  # a CT window on X-ray values: all white
    truncated = tmp_path / "short.dcm"
    _dx_file(truncated, truncate=True)
    assert load_slice(truncated, modality=("DX",), size=32).findings[-1] == "bad-pixels"


def test_check_images_lists_a_site_with_no_usable_file(study: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "checks.json"
    result = CliRunner().invoke(app, ["data", "check-images", "--images",
                                      str(study / "images"), "--labels",
                                      str(study / "labels.csv"), "--modality", "MR",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["usable"] == {s.name: 0 for s in SMALL}
    left_out = [(f["site"], f["kind"], f["count"]) for f in report["findings"]
                if f["left_out"]]
    assert sorted(left_out) == [(s.name, "modality", s.n) for s in SMALL]


def test_labels_written_yes_no_with_positive(study: Path, tmp_path: Path) -> None:
    with (study / "labels.csv").open() as src:
        rows = list(csv.DictReader(src))
    words = tmp_path / "words.csv"
    with words.open("w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(["file", "site", "label"])
        writer.writerows([r["file"], r["site"], "yes" if r["label"] == "1" else "no"]
                         for r in rows)
    numbers = read_image_cohort(study / "images", study / "labels.csv", size=32)
    yes_no = read_image_cohort(study / "images", words, size=32, positive="yes")
    assert np.array_equal(numbers.y, yes_no.y)
    with pytest.raises(DataError, match="row 2, column 'label': expected 0 or 1"):
        read_image_cohort(study / "images", words, size=32)


def test_study_run_with_images_and_named_columns(study: Path, tmp_path: Path) -> None:
    """The README's form, --site-column and --target given (it once raised TypeError)."""
    result = CliRunner().invoke(app, [
        "study", "run", "--images", str(study / "images"), "--labels",
        str(study / "labels.csv"), "--site-column", "site", "--target", "label",
        "--rounds", "1", "--image-size", "32", "--out", str(tmp_path / "runs"),
        "--json", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    assert "images: 32 x 32 slices" in result.output


def test_a_model_at_chance_is_called_so(study: Path, tmp_path: Path) -> None:
    """The report's banner and the registry's first limitation when the federated AUC
    is under 0.6 (here set so: a model with no skill must never look usable)."""
    from fedcare.cli._common import write_outputs
    from fedcare.registry._provenance import model_from_run
    from fedcare.report._html import _render
    from fedcare.study import run_study

    metrics = run_study(_config(study), pooled=False).to_dict()
    key = next(k for k in metrics["results"] if k.startswith("federated"))
    metrics["results"][key]["pooled_test"]["auc"] = 0.46
    assert 'id="no-skill"' in _render(metrics)
    record = model_from_run(write_outputs(metrics, tmp_path, "chance"))
    assert record["limitations"][0].startswith("NO SKILL: AUC 0.460")
    metrics["results"][key]["pooled_test"]["auc"] = 0.9
    assert 'id="no-skill"' not in _render(metrics)
