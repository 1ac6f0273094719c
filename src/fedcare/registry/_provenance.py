"""Read a finished study's run folder into what the registry stores."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fedcare import __version__
from fedcare.config._study import window_text
from fedcare.evaluation import NO_SKILL_AUC, no_skill
from fedcare.exceptions import DataError, DataNotFoundError

__all__ = ["VERTICAL_KINDS", "model_from_run", "vertical_model_from_result"]

#: Study settings that shape the model or its guarantees (kept as provenance).
_SETTINGS = ("data", "target", "model", "strategy", "rounds", "C", "local_steps", "lr",
             "batch_size", "standardise", "aggregation", "min_cell", "dp_epsilon", "dp_delta",
             "dp_level", "dp_max_grad_norm", "secure_aggregation", "norm_bound", "seed",
             "test_size", "split_seed", "min_site_rows")
SMALL_TEST = 50
CALIBRATION_OK = (0.8, 1.25)


def _load(run_dir: Path) -> dict[str, Any]:
    if not run_dir.exists():
        raise DataNotFoundError(f"{run_dir}: no such run folder")
    path = run_dir / "metrics.json" if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise DataNotFoundError(f"{run_dir}: no metrics.json; expected the folder a "
                                "`fedcare study run` or `fedcare demo` wrote")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON (line {getattr(exc, 'lineno', '?')})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object")
    return data


def _federated_key(results: dict[str, Any]) -> str:
    keys = [k for k in results if k.startswith("federated:")]
    if not keys:
        raise DataError("the run holds no federated result (a local-only run cannot be "
                        "registered)")
    return keys[0]


def _bound(fed: dict[str, Any]) -> float | None:
    """SecAgg+'s stated error bound on the sums that make the model (largest over them)."""
    bounds = (fed.get("secure_aggregation") or {}).get("error_bound") or {}
    model = [v for k, v in bounds.items() if k in ("train", "train.newton")]
    return max(model) if model else None


def _privacy(study: dict[str, Any], fed: dict[str, Any]) -> dict[str, Any]:
    spent = (fed.get("privacy") or {}).get("epsilon_spent")
    values = ([v for v in spent.values() if isinstance(v, int | float)]
              if isinstance(spent, dict) else
              [spent] if isinstance(spent, int | float) else [])
    return {
        "differential_privacy": bool(study.get("dp_epsilon")),
        "dp_level": study.get("dp_level") if study.get("dp_epsilon") else None,
        "target_epsilon": study.get("dp_epsilon") or None,
        "delta": study.get("dp_delta") if study.get("dp_epsilon") else None,
        "epsilon_spent": spent,
        "epsilon_max": max(values) if values else None,
        "secure_aggregation": bool(study.get("secure_aggregation")),
        # the stated bound on |secure sum - exact sum| per element of the model sums
        "secure_aggregation_error_bound": _bound(fed),
        "min_cell": study.get("min_cell"),
        "membership_inference_auc": fed.get("membership_inference_auc"),
    }


def _limitations(metrics: dict[str, Any], fed: dict[str, Any], kind: str,
                 privacy: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    quality = metrics.get("quality") or {}
    for line in metrics.get("quality_override") or quality.get("override") or []:
        notes.append("DATA-QUALITY OVERRIDE: trained with quality_check = 'warn' despite a "
                     f"blocking finding: {line}")
    for column, why in (metrics.get("identifiers_refused") or {}).items():
        notes.append(f"column '{column}' was not used as a feature: it identifies people "
                     f"({why})")
    imputed = metrics.get("imputed") or {}
    if imputed:
        notes.append("missing values of " + ", ".join(sorted(imputed)) + " were replaced by "
                     "the federated mean of the recorded values, with a 0/1 'missing' "
                     "indicator per feature; a prediction may omit these features")
    for site, info in metrics.get("sites", {}).items():
        dropped, kept = info.get("n_dropped_missing") or 0, info.get("n_rows") or 0
        if dropped and dropped >= 0.2 * (dropped + kept):
            notes.append(f"{site}: {dropped} of {dropped + kept} rows "
                         f"({dropped / (dropped + kept):.0%}) were left out for missing values; "
                         f"the model saw {kept} patients from this site")
    for site, reason in (metrics.get("excluded_sites") or {}).items():
        notes.append(f"{site}: excluded from training ({reason})")
    for site, row in fed.get("per_site", {}).items():
        n = row.get("n") or 0
        if n and n < SMALL_TEST:
            notes.append(f"{site}: performance measured on {n} test patients only "
                         "(wide uncertainty)")
        slope = row.get("calibration_slope")
        if isinstance(slope, int | float) and math.isfinite(slope) and not (
                CALIBRATION_OK[0] <= slope <= CALIBRATION_OK[1]):
            way = "too extreme" if slope < 1 else "too cautious"
            notes.append(f"{site}: calibration slope {slope:.2f} (predicted risks {way} "
                         "there); check calibration before use at this site")
    for finding in (metrics.get("quality") or {}).get("findings", []):
        # missingness is already stated as rows left out (above)
        if finding.get("severity") in {"blocking", "warning"} and finding.get("kind") != "missing":
            feature = f"{finding['feature']}: " if finding.get("feature") else ""
            notes.append(f"{finding.get('site') or 'all sites'}: {feature}"
                         f"{finding.get('kind', '').replace('_', ' ')} "
                         f"({finding.get('detail')})")
    if metrics.get("missing_rounds"):
        notes.append("some sites missed rounds: "
                     + ", ".join(f"{s} ({len(r)})" for s, r in metrics["missing_rounds"].items()))
    if not privacy["differential_privacy"]:
        notes.append("no differential privacy: the parameters are not formally protected "
                     "against membership inference"
                     + (f" (measured attack AUC {privacy['membership_inference_auc']:.3f}, "
                        "0.5 = chance)" if privacy.get("membership_inference_auc") else ""))
    if kind == "logistic":
        notes.append("logistic regression: each feature acts linearly on the log-odds; "
                     "interactions are not modelled")
    images = metrics.get("images") or {}
    if kind == "cnn" and images.get("synthetic"):
        notes.insert(0, "SYNTHETIC IMAGES: trained and measured on generated slices "
                        "(fedcare.imaging.write_synthetic_study), not patients' images; its "
                        "figures show the method, not clinical accuracy")
    if kind == "cnn":
        window = (metrics.get("study") or {}).get("window", "auto")
        notes.append(f"2-D {images.get('modality', '?')} slices of "
                     f"{images.get('size', '?')} x {images.get('size', '?')} pixels after "
                     f"windowing ({window_text(window)}); burned-in text in the pixels is "
                     "not detected (files flagged BurnedInAnnotation are refused)")
    notes.append("validated only on held-out patients of the training hospitals; not "
                 "externally validated")
    weak = no_skill(metrics.get("results") or {})
    if weak is not None:
        notes.insert(0, f"NO SKILL: AUC {weak[1]:.3f} on all test rows (0.5 is chance, "
                        f"{NO_SKILL_AUC} the least called useful): not for use")
    return notes


def model_from_run(run_dir: Path) -> dict[str, Any]:
    """Everything the registry stores for the global model of ``run_dir``.

    Raises
    ------
    DataNotFoundError
        No such folder or no ``metrics.json`` in it.
    DataError
        The file is not a study's metrics or holds no trained global model.
    """
    metrics = _load(run_dir)
    where = f"{run_dir}: metrics.json"
    try:
        study = metrics["study"]
        model = metrics["model"]
        schema = metrics["schema"]
        results = metrics["results"]
        arrays, standardiser, kind = model["arrays"], model["standardiser"], model["kind"]
    except (KeyError, TypeError) as exc:
        raise DataError(f"{where} lacks '{exc.args[0] if exc.args else '?'}': not the output "
                        "of a finished study with a global model") from None
    if kind not in {"logistic", "mlp", "cnn"}:
        raise DataError(f"{where}: unknown model kind '{kind}'")
    fed_key = _federated_key(results)
    fed = results[fed_key]
    privacy = _privacy(study, fed)
    sites = metrics.get("sites", {})
    target = schema.get("target", "target")
    provenance = {
        "run": run_dir.name,
        "registered_from": str(run_dir.resolve()),
        "strategy": study.get("strategy"),
        "rounds": fed.get("rounds"),
        "sites": sites,
        "excluded_sites": metrics.get("excluded_sites") or {},
        "missing_rounds": metrics.get("missing_rounds") or {},
        "quality_check": metrics.get("quality_check", study.get("quality_check")),
        "quality_override": list(metrics.get("quality_override")
                                 or (metrics.get("quality") or {}).get("override") or []),
        "missing_codes": study.get("missing_codes") or {},
        "missing": study.get("missing"),
        "imputed": metrics.get("imputed") or {},
        "identifiers_refused": metrics.get("identifiers_refused") or {},
        "settings": {k: study.get(k) for k in _SETTINGS if k in study},
        "privacy": privacy,
        "versions": metrics.get("versions") or {"fedcare": __version__},
    }
    comparison = {
        key: {"mean_client_accuracy": r.get("mean_client_accuracy"),
              "pooled_test": r.get("pooled_test"),
              "per_site_accuracy": {s: m.get("accuracy") for s, m in r.get("per_site", {}).items()},
              "per_site_auc": {s: m.get("auc") for s, m in r.get("per_site", {}).items()}}
        for key, r in results.items() if key != fed_key
    }
    images = metrics.get("images") or {}
    if kind == "cnn":
        if not images:
            raise DataError(f"{where}: a CNN run without its 'images' section (size, "
                            "modality): run the study again with this fedcare")
        provenance["images"] = {k: images.get(k) for k in ("size", "modality", "synthetic")}
        standardiser = standardiser or {}
    hyper = {"C": study.get("C", 1.0)} if kind == "logistic" else {
        "width": len(arrays[1]) if len(arrays) > 1 else None,
        "image_size": images.get("size"), "modality": images.get("modality"),
        "window": study.get("window", "auto")} if kind == "cnn" else {
        "hidden": len(arrays[1]) if len(arrays) > 1 else None}
    from fedcare.data._codebook import outcome_for

    outcome = outcome_for(schema, study.get("data")).label
    what = outcome or f"'{target}'"
    if kind == "cnn":
        use = (f"Estimates the probability that a {images.get('modality')} slice shows a "
               f"finding ({target} = 1), for slices like those of the training hospitals "
               f"({', '.join(sorted(sites))}), with an occlusion saliency map of where the "
               "network looked. Decision support for readers alongside their own reading; "
               "not a diagnosis.")
    else:
        use = (f"Estimates the probability of {what} ({target} = 1) for a patient like "
               f"those of the training hospitals ({', '.join(sorted(sites))}). Decision "
               "support for clinicians alongside their judgement; not a diagnosis, and not "
               "for patients outside the training population.")
    return {
        "name": f"{outcome or target} risk ({kind}, {study.get('strategy', '?')}, "
                f"{len(sites)} sites)",
        "kind": kind,
        "hyperparameters": hyper,
        "arrays": arrays,
        "standardiser": standardiser,
        "schema": schema,
        "intended_use": use,
        "provenance": provenance,
        "metrics": {"federated": {k: fed.get(k) for k in (
            "per_site", "mean_client_accuracy", "pooled_test", "membership_inference_auc",
            "rounds")}, "comparison": comparison,
            "calibration": (metrics.get("calibration") or {}).get(fed_key),
            "quality_check": provenance["quality_check"],
            "quality_override": provenance["quality_override"],
            "known_directions": metrics.get("known_directions")},
        "limitations": _limitations(metrics, fed, kind, privacy),
    }


VERTICAL_KINDS = ("vertical-logistic", "vertical-secureboost")


def vertical_model_from_result(path: Path) -> dict[str, Any]:
    """What the registry stores for a vertical model: its card only. The parameters stay
    split between the parties (each holds its part: ``fedcare vertical train --save``);
    predictions need both (``fedcare vertical predict``), never this registry.

    Raises
    ------
    DataNotFoundError
        No such file.
    DataError
        Not the JSON of a ``fedcare vertical train`` run with a saved model.
    """
    result = _load(path)
    where = f"{path}"
    try:
        model_id = str(result["model_id"])
        joint = result["results"]["joint"]
        parties = result["parties"]
        psi = result["psi"]
        label = result.get("label") or {}
    except (KeyError, TypeError) as exc:
        raise DataError(f"{where} lacks '{exc.args[0] if exc.args else '?'}': not the JSON "
                        "of a `fedcare vertical train` run (--json)") from None
    saved = joint.get("saved") or {}
    if not saved or not all(saved.values()):
        raise DataError(f"{where}: the parties did not save their parts of this model "
                        "(train with --save DIR): a registered model nobody can use")
    model = str(result.get("model") or (result.get("settings") or {}).get("model")
                or "logistic")
    kind = f"vertical-{model}"
    if kind not in VERTICAL_KINDS:
        raise DataError(f"{where}: unknown vertical model '{model}'")
    label_party = next(n for n, p in parties.items() if p["role"] == "label")
    passive = next(n for n in parties if n != label_party)
    column = label.get("column") or "the label"
    settings = dict(result.get("settings") or {})
    settings.pop("parties", None)  # file paths of one machine: not provenance of the model
    limitations = [
        "A vertical model: its parameters are split between "
        f"{label_party} and {passive}; each keeps its own part. It cannot be served from "
        "this registry (the prediction API refuses it); fedcare vertical predict runs it "
        "with both parties.",
        f"It predicts only for people both parties hold (found again by PSI for new "
        f"people); {label_party} receives the probabilities.",
        f"Test people: {joint.get('n_test')} shared people held out by a keyed hash of "
        "their identifier (AUC intervals: bootstrap of these people).",
    ]
    for name, m in result["results"].items():
        gain = m.get("joint_gain") or {}
        ci = gain.get("ci95")
        if ci and ci[0] <= 0:
            limitations.append(
                f"On the test people the joint model is not shown to beat {name} (AUC "
                f"difference {gain['auc_difference']:+.3f}, 95% CI {ci[0]:+.3f} to "
                f"{ci[1]:+.3f}): the other party's columns may add little here.")
    slope = joint.get("calibration_slope")
    if slope is not None and not CALIBRATION_OK[0] <= float(slope) <= CALIBRATION_OK[1]:
        limitations.append(f"Calibration slope {float(slope):.2f} on the test people: the "
                           "probabilities are scores, not risks.")
    alone = {k: v for k, v in result["results"].items() if k.endswith("_only")}
    if any((v.get("auc") or 0) > 0.98 for v in alone.values()):
        limitations.append("One party's features alone predict the label almost perfectly: "
                           "a copy or consequence of the label may be among them.")
    metrics = {"federated": {"pooled_test": {k: joint.get(k) for k in (
        "auc", "brier", "accuracy", "calibration_slope", "calibration_intercept", "n")},
        "per_site": {}, "mean_client_accuracy": None},
        "comparison": {k: {"pooled_test": {"auc": v.get("auc"), "brier": v.get("brier")}}
                       for k, v in result["results"].items() if k != "joint"},
        "vertical": {k: {m: v.get(m) for m in ("auc", "auc_ci95", "joint_gain", "brier",
                                               "calibration_slope", "n")}
                     for k, v in result["results"].items()}}
    return {
        "name": f"{column} ({kind}, {label_party} + {passive})",
        "kind": kind,
        "hyperparameters": {k: settings.get(k) for k in ("epochs", "trees", "lambda",
                                                         "recalibrate") if k in settings},
        "arrays": [],
        "standardiser": {},
        "schema": {"vertical": True, "model_id": model_id, "target": column,
                   "label_party": label_party,
                   "parties": {n: {"role": p["role"], "features": list(p["features"])}
                               for n, p in parties.items()}},
        "intended_use": (
            f"Estimates the probability of {column} = 1 for a person held by both "
            f"{label_party} and {passive}, from both parties' columns without either "
            "showing the other its data. Decision support; not for people outside the "
            "parties' shared population."),
        "provenance": {
            "run": model_id, "registered_from": str(path.resolve()), "strategy": "vertical",
            "model_id": model_id, "rounds": joint.get("epochs") or joint.get("trees"),
            "sites": {n: {"role": p["role"], "n_rows": psi["sizes"].get(n)}
                      for n, p in parties.items()},
            "psi": {"overlap": psi.get("overlap"), "sizes": psi.get("sizes")},
            "saved_by": sorted(saved), "settings": settings, "privacy": {},
            "versions": {"fedcare": settings.get("fedcare", __version__)}},
        "metrics": metrics,
        "limitations": limitations,
    }
