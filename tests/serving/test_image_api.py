"""Serving an image model: a DICOM upload in, a probability and a saliency map out.

The model is trained on synthetic slices (``fedcare.imaging.write_synthetic_study``).
"""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from fastapi.testclient import TestClient

from fedcare.imaging import ScannerSite, write_synthetic_study
from fedcare.registry import Registry
from fedcare.serving import create_app

SITES = (
    ScannerSite("site-a", 36, 0.5, 25.0, 0.0, 0.0, (5.0, 5.0), 64),
    ScannerSite("site-b", 30, 0.5, 40.0, 0.0, 10.0, (5.5, 5.5), 60),
)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run folder of a 2-site synthetic image study, its image folder)."""
    from fedcare.cli._common import write_outputs
    from fedcare.study import StudyConfig, run_study

    folder = tmp_path_factory.mktemp("images")
    labels = write_synthetic_study(folder, seed=5, sites=SITES)
    config = StudyConfig(data=str(labels), images=str(folder / "images"), model="cnn",
                         standardise="none", strategy="fedavg", rounds=2, local_steps=3,
                         lr=0.003, batch_size=16, target="label", test_size=0.4,
                         image_size=32)
    metrics = run_study(config).to_dict()
    return write_outputs(metrics, tmp_path_factory.mktemp("runs"), "imaging"), folder


@pytest.fixture
def served(tmp_path: Path, image_run: tuple[Path, Path], run_dir: Path
           ) -> tuple[TestClient, dict[str, str], int, int]:
    """(client, clinician headers, the image model's id, the heart model's id)."""
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    heart, _ = registry.register(run_dir)
    image, _ = registry.register(image_run[0])
    key = registry.create_api_key("reader", "clinician")[1]
    return TestClient(create_app(registry, console=False)), {"X-API-Key": key}, image.id, \
        heart.id


def _file(image_run: tuple[Path, Path], **change: object) -> bytes:
    path = next((image_run[1] / "images" / "site-a").glob("*.dcm"))
    ds = pydicom.dcmread(path)
    for key, value in change.items():
        setattr(ds, key, value)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


DICOM = {"Content-Type": "application/dicom"}


def test_a_dicom_upload_gets_a_probability_and_its_saliency(
        served: tuple[TestClient, dict[str, str], int, int],
        image_run: tuple[Path, Path]) -> None:
    client, auth, image_id, _ = served
    data = _file(image_run)
    reply = client.post(f"/v1/models/{image_id}/predict/dicom", content=data,
                        headers={**auth, **DICOM})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert 0.0 <= body["probability"] <= 1.0 and body["deidentified"] is True
    values = body["saliency"]["values"]
    assert body["saliency"]["size"] == 32 and len(values) == 32 and len(values[0]) == 32
    assert body["saliency"]["png"]
    ds = pydicom.dcmread(io.BytesIO(data))
    for secret in (str(ds.PatientName), str(ds.PatientID)):
        assert secret not in reply.text


def test_bad_uploads_get_clear_errors(served: tuple[TestClient, dict[str, str], int, int],
                                      image_run: tuple[Path, Path],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    client, auth, image_id, heart_id = served
    url = f"/v1/models/{image_id}/predict/dicom"
    corrupt = client.post(url, content=b"DICM" + b"\x00" * 200, headers={**auth, **DICOM})
    assert corrupt.status_code == 422 and "unreadable" in corrupt.json()["detail"]
    mr = client.post(url, content=_file(image_run, Modality="MR"), headers={**auth, **DICOM})
    assert mr.status_code == 422
    assert "modality" in mr.json()["detail"] and "reads CT" in mr.json()["detail"]
    empty = client.post(url, content=b"", headers={**auth, **DICOM})
    assert empty.status_code == 422
    as_json = client.post(url, json={"age": 60}, headers=auth)
    assert as_json.status_code == 415
    from fedcare.serving import _imaging

    monkeypatch.setattr(_imaging, "MAX_DICOM_BYTES", 1000)
    big = client.post(url, content=_file(image_run), headers={**auth, **DICOM})
    assert big.status_code == 413
    heart = client.post(f"/v1/models/{heart_id}/predict/dicom", content=_file(image_run),
                        headers={**auth, **DICOM})
    assert heart.status_code == 409 and "not an image model" in heart.json()["detail"]
    json_on_image = client.post(f"/v1/models/{image_id}/predict", json={"patient": {"age": 60}},
                                headers=auth)
    assert json_on_image.status_code == 409
    assert "/predict/dicom" in json_on_image.json()["detail"]


def test_the_log_keeps_a_hash_never_the_file(
        served: tuple[TestClient, dict[str, str], int, int],
        image_run: tuple[Path, Path], tmp_path: Path) -> None:
    client, auth, image_id, _ = served
    client.post(f"/v1/models/{image_id}/predict/dicom", content=_file(image_run),
                headers={**auth, **DICOM})
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    admin = registry.create_api_key("admin", "admin")[1]
    log = client.get("/v1/audit/predictions", headers={"X-API-Key": admin}).json()
    entries = [e for e in log if e["endpoint"] == "predict-dicom"]
    assert entries and all(len(e["input_hash"]) == 64 for e in entries)
    assert set(entries[0]) <= {"at", "api_key_id", "model_id", "endpoint", "n_rows",
                               "status_code", "input_hash", "id"}


def test_the_image_model_card_says_synthetic_and_shows_sites(
        served: tuple[TestClient, dict[str, str], int, int]) -> None:
    client, auth, image_id, _ = served
    card = client.get(f"/v1/models/{image_id}/card", params={"format": "json"},
                      headers=auth).json()
    assert card["synthetic"] is True
    assert set(card["performance"]["per_site"]) == {"site-a", "site-b"}
    assert any("SYNTHETIC IMAGES" in note for note in card["limitations"])
    html = client.get(f"/v1/models/{image_id}/card", headers=auth).text
    assert 'id="synthetic-images"' in html and "site-b" in html
    detail = client.get(f"/v1/models/{image_id}", headers=auth)
    assert detail.status_code == 200 and detail.json()["kind"] == "cnn"
