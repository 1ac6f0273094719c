"""The prediction API over a real SQLite registry file: auth, roles, validation, logging."""

from __future__ import annotations

import hashlib
import json
import math
import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fedcare.registry import Registry
from fedcare.serving import create_app

PATIENT: dict[str, Any] = {
    "age": 63, "sex": 1, "cp": "4", "trestbps": 145, "chol": 233, "fbs": 1, "restecg": "2",
    "thalach": 150, "exang": 0, "oldpeak": 2.3,
}


@pytest.fixture
def client(registry: Registry) -> TestClient:
    return TestClient(create_app(registry))


def _h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def _by_hand(record: Any, patient: dict[str, Any]) -> float:
    """The heart model's risk computed from the stored arrays, independently of fedcare."""
    names = record.schema["encoded_feature_names"]
    x = []
    for name in names:
        if "=" in name:
            feature, level = name.split("=")
            x.append(1.0 if str(patient[feature]) == level else 0.0)
        else:
            x.append(float(patient[name]))
    mean = np.asarray(record.standardiser["mean"])
    scale = np.asarray(record.standardiser["scale"])
    coef, intercept = np.asarray(record.arrays[0]), float(record.arrays[1][0])
    z = float(((np.asarray(x) - mean) / scale) @ coef + intercept)
    return 1 / (1 + math.exp(-z))


def test_health_needs_no_key(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["models"] == 1


def test_request_without_key_is_401(client: TestClient) -> None:
    r = client.post("/v1/models/1/predict", json={"patient": PATIENT})
    assert r.status_code == 401
    assert "X-API-Key" in r.json()["detail"]
    assert r.headers["WWW-Authenticate"] == "APIKey"
    assert client.get("/v1/models").status_code == 401


def test_unknown_and_revoked_keys_are_401(client: TestClient, registry: Registry,
                                          keys: dict[str, str]) -> None:
    assert client.get("/v1/models", headers=_h("fck_not-a-key")).status_code == 401
    assert client.get("/v1/models", headers=_h(keys["clinician"])).status_code == 200
    key_id = next(k.id for k in registry.api_keys() if k.role == "clinician")
    registry.revoke_api_key(key_id)
    time.sleep(client.app.state.service.CACHE_SECONDS)  # type: ignore[attr-defined]
    r = client.get("/v1/models", headers=_h(keys["clinician"]))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_roles(client: TestClient, keys: dict[str, str]) -> None:
    # read-only: may read, may not predict, may not use admin routes
    assert client.get("/v1/models/1", headers=_h(keys["read-only"])).status_code == 200
    r = client.get("/v1/audit/predictions", headers=_h(keys["read-only"]))
    assert r.status_code == 403
    assert r.json()["detail"] == ("this route needs the admin role; key 'test-read-only' "
                                  "has role read-only")
    r = client.post("/v1/models/1/predict", json={"patient": PATIENT},
                    headers=_h(keys["read-only"]))
    assert r.status_code == 403 and "clinician role" in r.json()["detail"]
    # clinician: may predict, not administer
    assert client.post("/v1/models/1/predict", json={"patient": PATIENT},
                       headers=_h(keys["clinician"])).status_code == 200
    assert client.patch("/v1/models/1", json={"status": "retired"},
                        headers=_h(keys["clinician"])).status_code == 403
    # admin: everything
    assert client.get("/v1/audit/predictions", headers=_h(keys["admin"])).status_code == 200


def test_predict_matches_the_stored_model(client: TestClient, registry: Registry,
                                          keys: dict[str, str]) -> None:
    r = client.post("/v1/models/1/predict", json={"patient": PATIENT},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 200
    risk = r.json()["predictions"][0]["risk"]
    assert risk == pytest.approx(_by_hand(registry.model(1), PATIENT), abs=1e-12)
    assert r.json()["content_hash"] == registry.model(1).content_hash


def test_batch_equals_single(client: TestClient, keys: dict[str, str]) -> None:
    rng = np.random.default_rng(0)
    batch = [{**PATIENT, "age": int(a), "chol": int(c)}
             for a, c in zip(rng.integers(30, 80, 200), rng.integers(150, 400, 200),
                             strict=True)]
    r = client.post("/v1/models/1/predict", json={"patients": batch},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 200
    risks = [p["risk"] for p in r.json()["predictions"]]
    assert len(risks) == 200
    for i in (0, 57, 199):
        single = client.post("/v1/models/1/predict", json={"patient": batch[i]},
                             headers=_h(keys["clinician"])).json()["predictions"][0]["risk"]
        assert single == pytest.approx(risks[i], abs=1e-12)


def test_out_of_range_is_422_naming_field_and_range(client: TestClient,
                                                    keys: dict[str, str]) -> None:
    r = client.post("/v1/models/1/predict",
                    json={"patients": [PATIENT, {**PATIENT, "trestbps": 400}]},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["body", "patients", 1, "trestbps"],
                                   "msg": "must be between 50 and 300 mmHg",
                                   "type": "value_error.range"}]


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"cp": "7"}, "cp", "must be one of 1, 2, 3, 4"),
    ({"sex": 2}, "sex", "must be 0 or 1"),
    ({"age": None}, "age", "field required (in years)"),
    ({"thalach": "fast"}, "thalach", "expected a finite number in /min"),
    ({"chol": {"value": 5.0, "unit": "furlong/fortnight"}}, "chol",
     "unit 'furlong/fortnight' cannot be converted to mg/dL"),
    ({"weight": 80}, "weight", "unknown field; expected age, chol, cp, exang, fbs, oldpeak, "
                               "restecg, sex, thalach, trestbps"),
])
def test_bad_fields_are_422(client: TestClient, keys: dict[str, str], change: dict[str, Any],
                            field: str, message: str) -> None:
    r = client.post("/v1/models/1/predict", json={"patient": {**PATIENT, **change}},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert [d["loc"][-1] for d in detail] == [field]
    assert detail[0]["msg"] == message


def test_unit_is_converted(client: TestClient, keys: dict[str, str]) -> None:
    in_mg = client.post("/v1/models/1/predict", json={"patient": {**PATIENT, "chol": 232.0}},
                        headers=_h(keys["clinician"])).json()["predictions"][0]["risk"]
    mmol = 232.0 / 38.665  # cholesterol: 1 mmol/L = 38.665 mg/dL (molar mass 386.65 g/mol)
    r = client.post("/v1/models/1/predict",
                    json={"patient": {**PATIENT, "chol": {"value": mmol, "unit": "mmol/L"}}},
                    headers=_h(keys["clinician"]))
    assert r.json()["predictions"][0]["risk"] == pytest.approx(in_mg, abs=1e-6)
    # converted into range: 20 mmol/L = 773 mg/dL is plausible, 30 mmol/L = 1160 is not
    r = client.post("/v1/models/1/predict",
                    json={"patient": {**PATIENT, "chol": {"value": 30, "unit": "mmol/L"}}},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == (
        "must be between 50 and 1000 mg/dL")


def test_errors_never_echo_values(client: TestClient, keys: dict[str, str]) -> None:
    secret = "PATIENT-ZHANG-WEI-110105"
    for body in ({"patient": {**PATIENT, "age": secret}},
                 {"patient": {**PATIENT, "chol": {"value": secret, "unit": "mg/dL"}}},
                 {"patient": secret}, {"patients": [secret]}, {"patient": PATIENT, "x": secret}):
        r = client.post("/v1/models/1/predict", json=body, headers=_h(keys["clinician"]))
        assert r.status_code == 422, body
        assert secret not in r.text


def test_explain_contributions_add_up(client: TestClient, registry: Registry,
                                      keys: dict[str, str]) -> None:
    r = client.post("/v1/models/1/explain", json={"patients": [PATIENT, {**PATIENT, "cp": "1"}]},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 200
    for e in r.json()["explanations"]:
        assert set(e["contributions"]) == {f["name"] for f in registry.model(1).schema["features"]}
        assert e["base_log_odds"] + sum(e["contributions"].values()) == pytest.approx(
            e["log_odds"], abs=1e-12)
        assert e["risk"] == pytest.approx(1 / (1 + math.exp(-e["log_odds"])))
        assert len(e["top_factors"]) == 3
        top = max(e["contributions"], key=lambda k: abs(e["contributions"][k]))
        assert e["top_factors"][0].startswith(f"{top} = ")
    a, b = r.json()["explanations"]
    # only cp differs, so only cp's contribution differs
    diff = {k for k in a["contributions"] if a["contributions"][k] != b["contributions"][k]}
    assert diff == {"cp"}


def test_every_prediction_is_logged_without_values(client: TestClient, registry: Registry,
                                                   keys: dict[str, str]) -> None:
    client.post("/v1/models/1/predict", json={"patient": PATIENT}, headers=_h(keys["clinician"]))
    client.post("/v1/models/1/explain", json={"patients": [PATIENT, PATIENT]},
                headers=_h(keys["clinician"]))
    client.post("/v1/models/1/predict", json={"patient": {**PATIENT, "trestbps": 10}},
                headers=_h(keys["clinician"]))
    log = client.get("/v1/audit/predictions", headers=_h(keys["admin"])).json()
    assert [(e["endpoint"], e["n_rows"], e["status_code"]) for e in log] == [
        ("predict", 1, 422), ("explain", 2, 200), ("predict", 1, 200)]
    clinician = next(k.id for k in registry.api_keys() if k.role == "clinician")
    assert {e["api_key_id"] for e in log} == {clinician}
    # the hash is over the canonical JSON of the parsed input: numbers as floats, keys sorted
    parsed = {k: float(v) if isinstance(v, int) else v for k, v in PATIENT.items()}
    expected = hashlib.sha256(json.dumps([parsed], sort_keys=True,
                                         separators=(",", ":")).encode()).hexdigest()
    assert log[2]["input_hash"] == expected
    assert set(log[0]) == {"id", "at", "api_key_id", "model_id", "endpoint", "n_rows",
                           "input_hash", "status_code"}


def test_rate_limit_per_key(registry: Registry, keys: dict[str, str]) -> None:
    client = TestClient(create_app(registry, rate_limit="3/minute"))
    codes = [client.get("/v1/models", headers=_h(keys["read-only"])).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/v1/models", headers=_h(keys["read-only"]))
    assert "rate limit 3 per 1 minute exceeded for key 'test-read-only'" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) >= 1
    # another key has its own budget
    assert client.get("/v1/models", headers=_h(keys["admin"])).status_code == 200


def test_retired_model_refuses_predictions(client: TestClient, keys: dict[str, str]) -> None:
    r = client.patch("/v1/models/1", json={"status": "retired"}, headers=_h(keys["admin"]))
    assert r.status_code == 200 and r.json()["status"] == "retired"
    r = client.post("/v1/models/1/predict", json={"patient": PATIENT},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 409 and "retired" in r.json()["detail"]
    assert client.get("/v1/models/1", headers=_h(keys["read-only"])).status_code == 200


def test_unknown_model_is_404(client: TestClient, keys: dict[str, str]) -> None:
    r = client.get("/v1/models/7", headers=_h(keys["read-only"]))
    assert r.status_code == 404 and r.json()["detail"] == "no model with id 7"
    assert client.post("/v1/models/7/predict", json={"patient": PATIENT},
                       headers=_h(keys["clinician"])).status_code == 404


def test_model_detail_and_card(client: TestClient, keys: dict[str, str]) -> None:
    detail = client.get("/v1/models/1", headers=_h(keys["read-only"])).json()
    trestbps = next(f for f in detail["schema"]["features"] if f["name"] == "trestbps")
    assert trestbps["unit"] == "mm[Hg]" and trestbps["valid_range"] == [50.0, 300.0]
    assert set(detail["global_importance"]) == {f["name"] for f in detail["schema"]["features"]}
    assert "arrays" not in detail
    card = client.get("/v1/models/1/card?format=json", headers=_h(keys["read-only"])).json()
    assert set(card["data_sources"]["sites"]) == {"cleveland", "hungary", "switzerland", "va"}
    assert card["performance"]["per_site"]["cleveland"]["calibration_slope"] is not None
    html = client.get("/v1/models/1/card", headers=_h(keys["read-only"]))
    assert html.headers["content-type"].startswith("text/html")
    assert "Known limitations" in html.text and "switzerland" in html.text
