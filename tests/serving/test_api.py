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


def _encoded(record: Any, patient: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Feature -> its encoded columns' values (column name -> value), from the schema's
    features, independently of fedcare's encoder."""
    out: dict[str, dict[str, float]] = {}
    for f in record.schema["features"]:
        name = f["name"]
        if f["kind"] == "categorical":  # one-hot, first level dropped
            out[name] = {f"{name}={level}": 1.0 if str(patient[name]) == level else 0.0
                         for level in f["categories"][1:]}
        else:
            out[name] = {name: float(patient[name])}
            if f.get("impute") is not None:  # imputed in training: "<name> missing" = 0
                out[name][f"{name} missing"] = 0.0
    return out


def _by_hand(record: Any, patient: dict[str, Any]) -> float:
    """The heart model's risk computed from the stored arrays, independently of fedcare."""
    names = record.schema["encoded_feature_names"]
    columns = {k: v for group in _encoded(record, patient).values() for k, v in group.items()}
    assert sorted(columns) == sorted(names)
    x = [columns[name] for name in names]
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
    ({"cp": "7"}, "cp", "must be one of 1 (typical angina), 2 (atypical angina), "
                        "3 (non-anginal pain), 4 (asymptomatic)"),
    ({"sex": 2}, "sex", "must be 0 or 1: 0 (female), 1 (male)"),
    ({"chol": "high"}, "chol", "expected a finite number in mg/dL"),
    ({"chol": {"value": "high", "unit": "mg/dL"}}, "chol", "expected a finite number in mg/dL"),
    ({"chol": [233]}, "chol", "expected a finite number in mg/dL"),
    ({"chol": {"value": 5.0}}, "chol",
     'expected a number in mg/dL or {"value": number, "unit": UCUM code}'),
    ({"cp": {"value": 4, "unit": "mg/dL"}}, "cp", "expected one of 1 (typical angina), "
     "2 (atypical angina), 3 (non-anginal pain), 4 (asymptomatic)"),
    ({"age": 10**400}, "age", "expected a finite number in years"),
    ({"age": None}, "age", "field required (in years)"),
    ({"thalach": "fast"}, "thalach", "expected a finite number in /min"),
    ({"chol": {"value": 5.0, "unit": "furlong/fortnight"}}, "chol",
     "unit cannot be converted to mg/dL; send a UCUM unit of the same quantity, e.g. mg/dL "
     "or mmol/L"),
    ({"age": {"value": 63, "unit": "mg/dL"}}, "age",
     "unit cannot be converted to years (UCUM a); send a UCUM unit of the same quantity"),
    ({"weight": 80}, "weight", "unknown field; expected age, chol, cp, exang, fbs, oldpeak, "
                               "restecg, sex, thalach, trestbps"),
])
def test_bad_fields_are_422(client: TestClient, keys: dict[str, str], change: dict[str, Any],
                            field: str, message: str) -> None:
    # one patient: the error is at the patient's field, once (not per union branch)
    for endpoint in ("predict", "explain"):
        r = client.post(f"/v1/models/1/{endpoint}", json={"patient": {**PATIENT, **change}},
                        headers=_h(keys["clinician"]))
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert [d["loc"] for d in detail] == [["body", "patient", field]]
        assert detail[0]["msg"] == message
    # in a batch: at the patient's index and field
    r = client.post("/v1/models/1/predict",
                    json={"patients": [PATIENT, PATIENT, {**PATIENT, **change}]},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["body", "patients", 2, field], "msg": message,
                                   "type": r.json()["detail"][0]["type"]}]


def test_batch_errors_name_each_patient_and_field(client: TestClient,
                                                  keys: dict[str, str]) -> None:
    r = client.post("/v1/models/1/explain", json={"patients": [
        {**PATIENT, "chol": "x"}, PATIENT, {**PATIENT, "cp": "9", "trestbps": 10}]},
        headers=_h(keys["clinician"]))
    assert r.status_code == 422
    assert [(d["loc"], d["type"]) for d in r.json()["detail"]] == [
        (["body", "patients", 0, "chol"], "type"),
        (["body", "patients", 2, "cp"], "value_error.level"),
        (["body", "patients", 2, "trestbps"], "value_error.range")]


def test_a_single_patient_that_is_not_an_object_is_422_at_the_patient(
        client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/v1/models/1/predict", json={"patient": [1, 2]},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["detail"]] == [["body", "patient"]]


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
                 {"patient": {**PATIENT, "chol": {"value": 5, "unit": secret * 3}}},
                 {"patient": {**PATIENT, "chol": {"value": 5, "unit": secret}}},
                 {"patient": {**PATIENT, "cp": secret}}, {"patient": {**PATIENT, "sex": secret}},
                 {"patient": {**PATIENT, "chol": [secret]}},
                 {"patients": [PATIENT, {**PATIENT, "thalach": {"nested": secret}}]},
                 {"patient": {**PATIENT, "chol": 1e9, "age": -3}},
                 {"patient": secret}, {"patients": [secret]}, {"patient": PATIENT, "x": secret}):
        r = client.post("/v1/models/1/predict", json=body, headers=_h(keys["clinician"]))
        assert r.status_code == 422, body
        assert secret not in r.text
        assert "1000000000" not in r.text and "-3" not in r.text
    # a field name too long to be one (a pasted value?) is cut, and said to be too long
    long_name = secret * 4
    r = client.post("/v1/models/1/predict", json={"patient": {**PATIENT, long_name: 1}},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 422
    assert r.json()["detail"] == [{"loc": ["body", "patient", long_name[:64]],
                                   "msg": "field name longer than 64 characters",
                                   "type": "value_error.extra"}]


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
        assert e["top_factors"][0].startswith(f"{top} ")
        assert e["factors"][0]["feature"] == top
    a, b = r.json()["explanations"]
    # only cp differs, so only cp's contribution differs
    diff = {k for k in a["contributions"] if a["contributions"][k] != b["contributions"][k]}
    assert diff == {"cp"}


def test_explain_factors_are_signed_and_say_what_codes_mean(
        client: TestClient, registry: Registry, keys: dict[str, str]) -> None:
    r = client.post("/v1/models/1/explain", json={"patient": PATIENT},
                    headers=_h(keys["clinician"]))
    assert r.status_code == 200
    body = r.json()
    assert body["outcome"] == "heart disease"
    e = body["explanations"][0]
    factors = {f["feature"]: f for f in e["factors"]}
    assert set(factors) == set(e["contributions"])
    assert [abs(f["contribution"]) for f in e["factors"]] == sorted(
        (abs(v) for v in e["contributions"].values()), reverse=True)
    for name, f in factors.items():
        c = e["contributions"][name]
        assert f["contribution"] == c
        assert f["direction"] == ("little effect" if abs(c) < 0.05 else
                                  "raises risk" if c > 0 else "lowers risk")
        words = ("barely changes" if abs(c) < 0.05 else "raises" if c > 0 else "lowers")
        assert f"{words} the risk of heart disease (" in f["text"]
        assert f["text"].endswith(f"({c:+.2f} log-odds)" if abs(c) >= 0.005
                                  else "(0.00 log-odds)")
    assert factors["cp"]["meaning"] == "asymptomatic" and factors["cp"]["value"] == "4"
    assert factors["cp"]["label"] == "chest pain type"
    assert factors["cp"]["text"].startswith("cp (chest pain type) = 4 (asymptomatic): ")
    assert factors["sex"]["meaning"] == "male"
    assert factors["sex"]["text"].startswith("sex = 1 (male): ")
    assert factors["exang"]["text"].startswith("exang (exercise-induced angina) = 0 (no): ")
    assert factors["chol"]["value"] == 233 and factors["chol"]["unit"] == "mg/dL"
    assert factors["chol"]["text"].startswith("chol (serum cholesterol) = 233 mg/dL: ")
    # the signed contributions are the stored model's: the sum of weight x (x - mean) / sd
    # over the feature's columns, so the direction is the model's, not |contribution|'s
    record = registry.model(1)
    names = record.schema["encoded_feature_names"]
    w = dict(zip(names, record.arrays[0], strict=True))
    mean = dict(zip(names, record.standardiser["mean"], strict=True))
    sd = dict(zip(names, record.standardiser["scale"], strict=True))
    for name, group in _encoded(record, PATIENT).items():
        expected = sum(w[k] * (x - mean[k]) / sd[k] for k, x in group.items())
        assert factors[name]["contribution"] == pytest.approx(expected, abs=1e-12)
    assert any(f["contribution"] < -0.05 and f["direction"] == "lowers risk"
               for f in e["factors"])
    assert any(f["contribution"] > 0.05 and f["direction"] == "raises risk"
               for f in e["factors"])
    # the model's signed effects ride along: same signs as the coefficients
    effects = {x["feature"]: x for x in body["feature_effects"]}
    assert set(effects) == set(e["contributions"])
    for name in ("age", "sex", "thalach", "exang"):
        effect = effects[name]["effects"][0]
        assert math.copysign(1, effect["log_odds"]) == math.copysign(1, w[name])
        assert effect["odds_ratio"] == pytest.approx(math.exp(effect["log_odds"]))
    assert effects["sex"]["effects"][0]["comparison"] == "1 (male) vs 0 (female)"
    cp4 = next(x for x in effects["cp"]["effects"] if x["level"] == "4")
    assert cp4["comparison"] == "4 (asymptomatic) vs 1 (typical angina)"
    assert math.copysign(1, cp4["log_odds"]) == math.copysign(1, w["cp=4"])


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
    inputs = {f["name"]: f for f in card["inputs"]}
    assert inputs["cp"]["codes"][3] == {"code": "4", "meaning": "asymptomatic"}
    assert inputs["sex"]["accepted"] == "0 = female; 1 = male"
    assert inputs["restecg"]["codes"][0] == {"code": "0", "meaning": "normal"}
    assert card["feature_effects"] == detail["feature_effects"]
    assert {e["feature"] for e in card["feature_effects"]} == set(detail["global_importance"])
    html = client.get("/v1/models/1/card", headers=_h(keys["read-only"]))
    assert html.headers["content-type"].startswith("text/html")
    assert "Known limitations" in html.text and "switzerland" in html.text
    assert "<code>4</code> = asymptomatic" in html.text
    assert "4 (asymptomatic) vs 1 (typical angina)" in html.text
