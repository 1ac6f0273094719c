"""The registry: Alembic migrations, registration, provenance, bad run folders, PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from fedcare.exceptions import ConfigError, DataError, DataNotFoundError
from fedcare.registry import Registry, downgrade, upgrade
from fedcare.registry._tables import Base


def test_migrations_create_the_orm_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    upgrade(url)
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == {
        "alembic_version", "models", "api_keys", "prediction_log", "assessments",
        "registry_secrets", "users", "sessions"}
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], "the ORM tables and the Alembic migrations disagree"
    upgrade(url)  # idempotent
    downgrade(url, "base")  # the downgrade runs too
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}


def test_register_is_idempotent_by_content(tmp_path: Path, run_dir: Path) -> None:
    reg = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    first, new = reg.register(run_dir)
    again, new_again = reg.register(run_dir, name="another name")
    assert (new, new_again) == (True, False) and again.id == first.id
    # a different model (one weight changed) is a new record with another hash
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    metrics = json.loads((other / "metrics.json").read_text())
    metrics["model"]["arrays"][0][0] += 1e-9
    (other / "metrics.json").write_text(json.dumps(metrics))
    changed, new = reg.register(other)
    assert new and changed.id == 2 and changed.content_hash != first.content_hash
    assert [m.id for m in reg.models()] == [1, 2]


def test_record_holds_schema_provenance_metrics(registry: Registry, run_dir: Path) -> None:
    record = registry.model(1)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert record.arrays == metrics["model"]["arrays"]
    assert record.standardiser == metrics["model"]["standardiser"]
    chol = next(f for f in record.schema["features"] if f["name"] == "chol")
    assert (chol["unit"], chol["valid_range"]) == ("mg/dL", [50.0, 1000.0])
    prov = record.provenance
    assert prov["strategy"] == "newton" and prov["rounds"] == 4
    # the FLamby split sizes themselves (199/172/30/85 on the UCI files) are checked by
    # tests/study/test_heart_goals.py; here: the provenance records the run's sites
    assert {s: v["n_train"] for s, v in prov["sites"].items()} == {
        s: v["n_train"] for s, v in metrics["sites"].items()}
    assert set(prov["sites"]) == {"cleveland", "hungary", "switzerland", "va"}
    assert prov["privacy"]["differential_privacy"] is False
    assert prov["privacy"]["epsilon_max"] is None
    fed = metrics["results"]["federated:newton"]
    assert record.metrics["federated"]["per_site"] == fed["per_site"]
    assert "local" in record.metrics["comparison"] and "pooled" in record.metrics["comparison"]
    # Switzerland recorded no cholesterol: imputed, and the card says so
    assert any("missing values of chol" in note and "federated mean" in note
               for note in record.limitations)
    assert prov["imputed"]["chol"] > 150 and prov["quality_override"] == []
    assert record.created_at.tzinfo is not None


def test_dp_epsilon_is_recorded(tmp_path: Path, heart_data_dir: Path) -> None:
    from fedcare.cli._common import write_outputs
    from fedcare.study import StudyConfig, run_study

    config = StudyConfig(data="builtin:heart-disease", data_dir=str(heart_data_dir),
                         strategy="fedavg", rounds=2, local_steps=5, dp_epsilon=3.0,
                         quality_check="warn")
    run = write_outputs(run_study(config).to_dict(), tmp_path, "dp")
    record, _ = Registry(f"sqlite:///{tmp_path / 'r.db'}").register(run)
    privacy = record.provenance["privacy"]
    assert privacy["differential_privacy"] and privacy["target_epsilon"] == 3.0
    assert set(privacy["epsilon_spent"]) == {"cleveland", "hungary", "switzerland", "va"}
    assert privacy["epsilon_max"] == pytest.approx(3.0, abs=0.01)
    assert record.summary()["epsilon"] == privacy["epsilon_max"]
    assert not any("no differential privacy" in n for n in record.limitations)


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda p: None, DataNotFoundError, "no such run folder"),
    (lambda p: p.mkdir(), DataNotFoundError, "no metrics.json"),
    (lambda p: (p.mkdir(), (p / "metrics.json").write_text('{"study": 1,')),
     DataError, "not valid JSON (line 1)"),
    (lambda p: (p.mkdir(), (p / "metrics.json").write_text('{"study": {}}')),
     DataError, "lacks 'model'"),
])
def test_bad_run_folders(tmp_path: Path, run_dir: Path, make: object, error: type,
                         message: str) -> None:
    reg = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    target = tmp_path / "run"
    make(target)  # type: ignore[operator]
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        reg.register(target)
    assert reg.models() == []  # nothing half-registered


def test_bad_database_urls(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not usable"):
        Registry("nosuchdb://x")
    with pytest.raises(ConfigError, match="cannot open the model registry"):
        Registry(f"sqlite:///{tmp_path / 'missing-folder' / 'r.db'}")


def test_postgres_end_to_end(postgres_url: str, run_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from fedcare.serving import create_app

    reg = Registry(postgres_url)
    record, new = reg.register(run_dir)
    assert new and reg.register(run_dir)[1] is False
    assert reg.model(record.id).arrays == record.arrays
    _, secret = reg.create_api_key("pg-clinician", "clinician")
    client = TestClient(create_app(reg))
    patient = {"age": 63, "sex": 1, "cp": "4", "trestbps": 145, "chol": 233, "fbs": 1,
               "restecg": "2", "thalach": 150, "exang": 0, "oldpeak": 2.3}
    r = client.post(f"/v1/models/{record.id}/predict", json={"patient": patient},
                    headers={"X-API-Key": secret})
    assert r.status_code == 200
    assert client.post(f"/v1/models/{record.id}/predict", json={"patient": patient}
                       ).status_code == 401
    client.app.state.service.flush()  # type: ignore[attr-defined]
    log = reg.prediction_log()
    assert [(e["endpoint"], e["status_code"]) for e in log] == [("predict", 200)]
    # the assistant's follow-up store (migration 0002) on PostgreSQL
    profile = {"age": 58, "sex": "male", "systolic_bp": 148, "bp_treated": False,
               "smoker": True, "diabetes": False, "bmi": 27.7}
    for sbp in (148, 128):
        r = client.post("/v1/assess", json={"profile": {**profile, "systolic_bp": sbp},
                                            "person_id": "pg-person-1"},
                        headers={"X-API-Key": secret})
        assert r.status_code == 200, r.text
    history = reg.assessments("pg-person-1")
    assert [a["profile"]["systolic_bp"] for a in history] == [148, 128]
    with create_engine(postgres_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    reg.close()
