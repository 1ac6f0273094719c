"""A vertical model in the registry: its card (parties, features, comparison) and no
parameters; the prediction API refuses it with 409, the other models are unaffected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fedcare.exceptions import DataError
from fedcare.registry import Registry
from fedcare.serving import create_app
from fedcare.study._vertical import Party, run_vertical_study
from fedcare.vertical.examples import synthetic_parties


@pytest.fixture(scope="module")
def vertical_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vertical")
    hospital, insurer, _ = synthetic_parties()
    h, i = root / "h.csv", root / "i.csv"
    hospital.to_csv(h, index=False)
    insurer.to_csv(i, index=False)
    result = run_vertical_study([Party("hospital", h, "patient_id", label="event"),
                                 Party("insurer", i, "member_id")], epochs=2,
                                min_overlap=10, save=root / "models")
    out = root / "train.json"
    out.write_text(json.dumps(result))
    return out


def _h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_the_registry_keeps_the_card_not_the_parameters(registry: Registry,
                                                        vertical_json: Path) -> None:
    record, new = registry.register_vertical(vertical_json)
    assert new and record.id == 2 and record.kind == "vertical-logistic"
    assert not record.servable and record.arrays == [] and record.standardiser == {}
    assert set(record.schema["parties"]) == {"hospital", "insurer"}
    assert record.schema["parties"]["insurer"]["features"] == ["claims", "plan=plus"]
    assert record.summary()["sites"] == ["hospital", "insurer"]
    assert record.summary()["pooled_test_auc"] == pytest.approx(
        json.loads(vertical_json.read_text())["results"]["joint"]["auc"])
    again, new_again = registry.register_vertical(vertical_json)
    assert again.id == 2 and not new_again
    assert registry.model(1).servable  # the heart model


def test_a_result_without_saved_parts_is_refused(registry: Registry, vertical_json: Path,
                                                 tmp_path: Path) -> None:
    data = json.loads(vertical_json.read_text())
    data["results"]["joint"].pop("saved")
    unsaved = tmp_path / "unsaved.json"
    unsaved.write_text(json.dumps(data))
    with pytest.raises(DataError, match="--save"):
        registry.register_vertical(unsaved)


def test_the_api_shows_its_card_and_refuses_to_predict(
        registry: Registry, keys: dict[str, str], vertical_json: Path,
        patient: dict[str, Any]) -> None:
    registry.register_vertical(vertical_json)
    client = TestClient(create_app(registry))
    listed = client.get("/v1/models", headers=_h(keys["read-only"])).json()
    assert [m["kind"] for m in listed] == ["logistic", "vertical-logistic"]
    refused = client.post("/v1/models/2/predict", json={"patient": patient},
                          headers=_h(keys["clinician"]))
    assert refused.status_code == 409
    assert "vertical" in refused.json()["detail"] and "fedcare vertical predict" in \
        refused.json()["detail"]
    assert client.post("/v1/models/1/predict", json={"patient": patient},
                       headers=_h(keys["clinician"])).status_code == 200
    shown = client.get("/v1/models/2", headers=_h(keys["read-only"]))
    assert shown.status_code == 200 and shown.json()["schema"]["label_party"] == "hospital"
    card = client.get("/v1/models/2/card", headers=_h(keys["read-only"]))
    assert card.status_code == 200 and "insurer" in card.text and "--model-id" in card.text
    card_json = client.get("/v1/models/2/card?format=json", headers=_h(keys["read-only"]))
    assert card_json.json()["parties"]["hospital"]["role"] == "label"


def test_the_assistant_never_offers_a_vertical_model(registry: Registry,
                                                     vertical_json: Path) -> None:
    from fedcare.cli._assess import _candidates

    registry.register_vertical(vertical_json)
    assert [c.id for c in _candidates(registry)] == [1]


def test_cli_registers_and_writes_the_card(tmp_path: Path, vertical_json: Path) -> None:
    from fedcare.cli import app

    db = f"sqlite:///{tmp_path / 'r.db'}"
    runner = CliRunner()
    reg: Any = runner.invoke(app, ["model", "register", str(vertical_json), "--db", db])
    assert reg.exit_code == 0, reg.output
    assert "vertical-logistic" in reg.output
    card = tmp_path / "card.html"
    out = runner.invoke(app, ["model", "card", "1", "--out", str(card), "--db", db])
    assert out.exit_code == 0, out.output
    assert "split between its parties" in card.read_text()
    shown = runner.invoke(app, ["model", "show", "1", "--db", db])
    assert shown.exit_code == 0 and "joint" in shown.output
