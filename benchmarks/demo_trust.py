"""The demo's heart model before and after declaring cholesterol 0 as "not recorded".

Both run in this process on the four UCI heart files (Newton, 10 rounds, embedded):

FLamby protocol (the demo before)
    no missing-value codes (cholesterol 0 mg/dL, every Switzerland row and 49 VA rows, is
    used as a value), complete cases, the quality check's blocking findings recorded as an
    override (``quality_check = "warn"``).
demo (after)
    ``missing_codes = {chol = 0, trestbps = 0}`` recoded at every site before the check,
    ``missing = "impute"``: federated mean + missing indicator, quality check refusing.

Printed: the standardised cholesterol coefficient and its odds ratio per 100 mg/dL, the
risk of one made-up patient at cholesterol 100 and 400 mg/dL (the served model's
prediction and its explanation's cholesterol contribution), and the study's figures.
The two test sets differ (imputation keeps rows that complete cases drop), so the
accuracy/AUC columns are not a paired comparison.

Run:  .venv/bin/python benchmarks/demo_trust.py [--data DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

import _common as C

C.flower_env()

#: A made-up patient (not from the data): 55-year-old man, asymptomatic chest pain.
PATIENT = {"age": 55, "sex": 1, "cp": 4, "trestbps": 130, "fbs": 0, "restecg": 0,
           "thalach": 140, "exang": 0, "oldpeak": 1.0}


def _one(settings: dict[str, Any], data: Path) -> dict[str, Any]:
    from fedcare.config import StudyConfig
    from fedcare.explain import RiskModel
    from fedcare.study import run_study

    config = StudyConfig(data="builtin:heart-disease", data_dir=str(data), **settings)
    started = time.perf_counter()
    with C.quiet_flower():
        metrics = run_study(config).to_dict()
    seconds = time.perf_counter() - started
    model = metrics["model"]
    names = model["feature_names"]
    coef = float(np.ravel(model["arrays"][0])[names.index("chol")])
    sd = float(model["standardiser"]["scale"][names.index("chol")])
    risk = RiskModel(model["kind"], model["arrays"], model["standardiser"], metrics["schema"])
    low, high = risk.predict([{**PATIENT, "chol": 100}, {**PATIENT, "chol": 400}])
    contribution = risk.explain([{**PATIENT, "chol": 400}])[0].contributions["chol"]
    fed = metrics["results"]["federated:newton"]
    return {"chol_coef": coef, "odds_ratio_per_100": float(np.exp(coef / sd * 100)),
            "risk_chol_100": float(low), "risk_chol_400": float(high),
            "chol_contribution_400": contribution,
            "auc": fed["pooled_test"]["auc"], "brier": fed["pooled_test"]["brier"],
            "accuracy": fed["pooled_test"]["accuracy"],
            "baseline_accuracy": fed["pooled_test"]["baseline_accuracy"],
            "test_rows": sum(int(v["n"]) for v in fed["per_site"].values()),
            "switzerland_test_rows": fed["per_site"].get("switzerland", {}).get("n"),
            "quality_override": len(metrics["quality_override"]),
            "imputed": sorted(metrics["imputed"]), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=C.HEART_DIR)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from fedcare.data._heart import HEART_MISSING_CODES

    runs = {"FLamby protocol (demo before)": _one(C.flamby_protocol(), args.data),
            "demo: chol/BP 0 = missing, imputed": _one(
                {"missing_codes": HEART_MISSING_CODES, "missing": "impute"}, args.data)}
    header = ["setting", "chol coef (std)", "OR /100 mg/dL", "risk @100", "risk @400",
              "chol contrib @400", "AUC", "Brier", "acc", "baseline acc", "test rows",
              "overrides"]
    rows = [[name, C.fmt(r["chol_coef"], signed=True), C.fmt(r["odds_ratio_per_100"], 2),
             C.fmt(r["risk_chol_100"]), C.fmt(r["risk_chol_400"]),
             C.fmt(r["chol_contribution_400"], signed=True), C.fmt(r["auc"]),
             C.fmt(r["brier"]), C.fmt(r["accuracy"]), C.fmt(r["baseline_accuracy"]),
             str(r["test_rows"]), str(r["quality_override"])] for name, r in runs.items()]
    print(C.table(header, rows))
    for name, r in runs.items():
        print(f"{name}: imputed {', '.join(r['imputed']) or 'none'}; "
              f"Switzerland test rows {r['switzerland_test_rows']}; {r['seconds']:.1f} s")
    if args.json:
        C.write_json(runs, args.json)


if __name__ == "__main__":
    main()
