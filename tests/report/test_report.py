"""Tests for :func:`fedcare.report.write_report`."""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import pytest

from fedcare.report import write_report


def _site(acc: float, auc: float | None) -> dict[str, Any]:
    return {"accuracy": acc, "auc": auc, "brier": 0.2, "calibration_slope": 1.0,
            "calibration_intercept": 0.0, "n": 20}


def _metrics(site_b: str = "site-beta") -> dict[str, Any]:
    def setting(acc: float, rounds: int) -> dict[str, Any]:
        return {"per_site": {"site-alpha": _site(acc, 0.8), site_b: _site(acc - 0.1, None)},
                "mean_client_accuracy": acc - 0.05,
                "pooled_test": {"accuracy": acc, "auc": 0.81, "brier": None},
                "rounds": rounds, "seconds": 1.5}

    return {
        "study": {"data": "builtin:heart-disease", "strategy": "newton"},
        "sites": {"site-alpha": {"n_train": 60, "n_test": 20, "n_dropped_missing": 1},
                  site_b: {"n_train": 50, "n_test": 20, "n_dropped_missing": 0}},
        "excluded_sites": {"tiny": "fewer than 10 rows"},
        "results": {"local": setting(0.70, 0), "federated:newton": setting(0.80, 3),
                    "pooled": setting(0.82, 0)},
        "convergence": {"federated:newton": [
            {"round": r, "accuracy": 0.7 + 0.03 * r, "auc": 0.75 + 0.02 * r,
             "test_loss": 0.6 - 0.05 * r, "train_loss": 0.6, "seconds": 0.1}
            for r in (1, 2, 3)]},
        "calibration": {s: {"predicted": [0.1, 0.5, 0.9], "observed": [0.15, 0.45, 0.85],
                            "n": [10.0, 15.0, 15.0]} for s in ("federated:newton", "pooled")},
        "reference": {"FLamby federated": {"mean_client_accuracy": 0.75,
                                           "pooled_test_accuracy": None}},
    }


def test_write_report_is_self_contained(tmp_path: pathlib.Path) -> None:
    out = write_report(_metrics(), tmp_path / "report.html")
    assert out == tmp_path / "report.html"
    assert out.exists()
    html = out.read_text(encoding="utf-8")
    for name in ("site-alpha", "site-beta", "local", "federated:newton", "pooled",
                 "builtin:heart-disease", "fewer than 10 rows", "FLamby federated"):
        assert name in html
    assert html.count("<img") == 3
    assert html.count('src="data:image/png;base64,') == 3
    assert "http://" not in html and "https://" not in html
    assert "–" in html  # null AUC rendered as a dash
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temp file left


def test_site_names_are_escaped(tmp_path: pathlib.Path) -> None:
    evil = "<script>alert(1)</script>"
    html = write_report(_metrics(site_b=evil), tmp_path / "r.html").read_text("utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("broken", ["no-results", "empty-results"])
def test_failure_leaves_no_file(tmp_path: pathlib.Path, broken: str) -> None:
    metrics = copy.deepcopy(_metrics())
    if broken == "no-results":
        del metrics["results"]
    else:
        metrics["results"] = {}
    target = tmp_path / "report.html"
    with pytest.raises((KeyError, ValueError)):
        write_report(metrics, target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_previous_report(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("previous", encoding="utf-8")
    with pytest.raises(KeyError):
        write_report({"study": {}}, target)
    assert target.read_text(encoding="utf-8") == "previous"


def test_interrupted_write_leaves_no_temp_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("fedcare._io.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(_metrics(), tmp_path / "report.html")
    assert list(tmp_path.iterdir()) == []
