"""Saved vertical models and prediction for new people (``fedcare vertical predict``):
each party keeps its own part; predicting the training file's test people gives the
probabilities the study scored them with; new files are encoded as in training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fedcare.evaluation import binary_metrics
from fedcare.exceptions import ConfigError, DataError, DataNotFoundError
from fedcare.study._vertical import Party, predict_vertical, run_vertical_study
from fedcare.vertical.ids import normalise_one
from fedcare.vertical.party import in_test


def _parties(h: Path, i: Path, label: bool = True) -> list[Party]:
    return [Party("hospital", h, "patient_id", label="event" if label else None),
            Party("insurer", i, "member_id")]


@pytest.mark.parametrize("model", ["logistic", "secureboost"])
def test_predicting_the_test_people_reproduces_the_studys_scores(
        party_files: tuple[Path, Path, set[str]], tmp_path: Path, model: str) -> None:
    if model == "secureboost":
        pytest.importorskip("heu")
    h, i, _ = party_files
    trained = run_vertical_study(_parties(h, i), model=model, save=tmp_path / "models",
                                 other_alone=False, references=False, min_overlap=10,
                                 epochs=3, trees={"n_trees": 3, "max_bins": 16})
    joint = trained["results"]["joint"]
    assert joint["saved"] == {"hospital": True, "insurer": True}
    model_id = trained["model_id"]
    for party in ("hospital", "insurer"):
        assert (tmp_path / "models" / party / f"{model_id}.json").is_file()
    # new people: the insurer's file in another order, without two of its columns'
    # neighbours; the hospital's without its label column
    hospital = pd.read_csv(h, dtype={"patient_id": str}).drop(columns=["event"])
    insurer = pd.read_csv(i, dtype={"member_id": str}).sample(frac=1.0, random_state=3)
    hn, inn = tmp_path / "new_h.csv", tmp_path / "new_i.csv"
    hospital.to_csv(hn, index=False)
    insurer.to_csv(inn, index=False)
    out = tmp_path / "pred.csv"
    result = predict_vertical(_parties(hn, inn, label=False), model_id, tmp_path / "models",
                              out)
    assert result["prediction"]["predicted"] == trained["psi"]["overlap"]
    pred = pd.read_csv(out, dtype={"id": str})
    assert len(pred) == trained["psi"]["overlap"] and pred["probability"].between(0, 1).all()
    # the study's test people, scored again: the same AUC and Brier score
    labels = pd.read_csv(h, dtype={"patient_id": str})
    labels["id"] = [normalise_one(v) for v in labels["patient_id"]]
    test = pred.merge(labels, on="id")
    test = test[[in_test(v, "0", 0.25) for v in test["id"]]]
    assert len(test) == joint["n_test"]
    again = binary_metrics(test["event"].to_numpy(float), test["probability"].to_numpy())
    assert abs(again["auc"] - joint["auc"]) < 1e-9
    assert abs(again["brier"] - joint["brier"]) < 1e-6  # probabilities written to 6 digits


def test_a_new_file_is_checked_against_the_training_encoding(
        party_files: tuple[Path, Path, set[str]], tmp_path: Path) -> None:
    h, i, _ = party_files
    trained = run_vertical_study(_parties(h, i), save=tmp_path / "m", other_alone=False,
                                 references=False, min_overlap=10, epochs=2)
    model_id = trained["model_id"]
    insurer = pd.read_csv(i, dtype=str)
    insurer.loc[insurer.index[:4], "plan"] = "platinum"  # a level training never saw
    bad = tmp_path / "bad.csv"
    insurer.to_csv(bad, index=False)
    out = tmp_path / "p.csv"
    with pytest.raises(DataError, match=r"4 row.*not seen in training") as err:
        predict_vertical(_parties(h, bad, label=False), model_id, tmp_path / "m", out)
    assert "platinum" not in str(err.value)
    missing = tmp_path / "missing.csv"
    insurer.drop(columns=["claims"]).to_csv(missing, index=False)
    with pytest.raises(DataError, match="claims"):
        predict_vertical(_parties(h, missing, label=False), model_id, tmp_path / "m", out)
    with pytest.raises(DataNotFoundError, match="holds no part of model"):
        predict_vertical(_parties(h, i, label=False), "ab" * 8, tmp_path / "m", out)
    renamed = [Party("clinic", h, "patient_id"), Party("insurer", i, "member_id")]
    with pytest.raises(DataNotFoundError, match=r"held by \['hospital', 'insurer'\]"):
        predict_vertical(renamed, model_id, tmp_path / "m", out)
    other_kind = [Party("hospital", h, "patient_id", id_kind="phone"),
                  Party("insurer", i, "member_id", id_kind="")]
    with pytest.raises(ConfigError, match="matches identifiers as 'generic', not 'phone'"):
        predict_vertical(other_kind, model_id, tmp_path / "m", out)
    assert not out.exists()  # nothing half-written


def _cli(args: list[str]) -> Any:
    from typer.testing import CliRunner

    from fedcare.cli import app

    return CliRunner().invoke(app, ["vertical", *args])


def test_cli_saves_and_predicts(party_files: tuple[Path, Path, set[str]],
                                tmp_path: Path) -> None:
    import json

    h, i, _ = party_files
    out_json = tmp_path / "train.json"
    trained = _cli(["train", "--party", f"hospital={h}:patient_id", "--party",
                    f"insurer={i}:member_id", "--label", "hospital:event", "--epochs", "2",
                    "--min-overlap", "10", "--save", str(tmp_path / "models"),
                    "--json", str(out_json)])
    assert trained.exit_code == 0, trained.output
    model_id = json.loads(out_json.read_text())["model_id"]
    assert f"--model-id{model_id}" in "".join(trained.output.split())
    pred = tmp_path / "p.csv"
    ok = _cli(["predict", "--model-id", model_id, "--models", str(tmp_path / "models"),
               "--party", f"hospital={h}:patient_id", "--party", f"insurer={i}:member_id",
               "--out", str(pred)])
    assert ok.exit_code == 0, ok.output
    assert "shared people predicted" in ok.output and pred.is_file()
    assert np.isfinite(pd.read_csv(pred)["probability"]).all()
    no_out = _cli(["predict", "--model-id", model_id, "--party", f"hospital={h}:patient_id",
                   "--party", f"insurer={i}:member_id"])
    assert no_out.exit_code == 5 and "--out" in no_out.output


def test_a_live_site_writes_each_prediction_run_to_its_own_file(
        party_files: tuple[Path, Path, set[str]], tmp_path: Path) -> None:
    """A predictions folder (a live site's vertical-predictions/): each run writes
    '<model id>-<run id>.csv' there, the coordinator learns its name only; the new people
    come from 'predict-data' when a site names it."""
    from fedcare.federation.engines.inprocess import run_vertical_inprocess
    from fedcare.federation.vertical.coordinator import VerticalKey

    h, i, _ = party_files
    trained = run_vertical_study(_parties(h, i), save=tmp_path / "m", other_alone=False,
                                 references=False, min_overlap=10, epochs=2)
    model_id = trained["model_id"]
    folder = tmp_path / "vertical-predictions"
    configs = [{"site": "hospital", "data": "/nonexistent/train.csv", "predict-data": str(h),
                "id-column": "patient_id", "model-dir": str(tmp_path / "m" / "hospital"),
                "predictions": str(folder) + "/"},
               {"site": "insurer", "data": str(i), "id-column": "member_id",
                "model-dir": str(tmp_path / "m" / "insurer"),
                "predictions": str(tmp_path / "insurer-side") + "/"}]
    run = {VerticalKey.MODE: "predict", VerticalKey.MODEL_ID: model_id,
           VerticalKey.REVEAL: True, VerticalKey.MIN_OVERLAP: 1}
    files = set()
    for _ in range(2):
        result, _ = run_vertical_inprocess(configs, run)
        name = result["prediction"]["file"]
        assert name.startswith(f"{model_id}-") and name.endswith(".csv")
        assert (folder / name).is_file()
        files.add(name)
    assert len(files) == 2  # one file a run, none overwritten
    assert not (tmp_path / "insurer-side").exists()  # only the label party writes
    assert len(pd.read_csv(folder / name)) == trained["psi"]["overlap"]
