"""A whole study on one table: federated (through the Flower apps) beside local and pooled.

The federated part runs the real ServerApp/ClientApp (in-process by default); the
pooled model and the pooled-test figures are computed here because, in an embedded
study or a benchmark, the table is available in one place.  On a live federation only
the per-site figures the sites send exist.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from fedcare._format import did_you_mean
from fedcare.config import ENGINES, StudyConfig
from fedcare.data import Cohort
from fedcare.data._cohort import Schema
from fedcare.data._identifiers import identifier_columns
from fedcare.data._standardise import Standardiser
from fedcare.data._study import HEART, load_study_cohort, read_study_table, study_roles
from fedcare.data._table import read_frame
from fedcare.evaluation import baseline_accuracy, binary_metrics
from fedcare.exceptions import ConfigError, DataError
from fedcare.federation import FederatedRun, run_inprocess, run_simulation
from fedcare.federation.site.data import SiteSplit, site
from fedcare.federation.site.images import image_prepared, image_study_sites
from fedcare.federation.site.tasks import personalise_method
from fedcare.models import LogisticRegression, make_model
from fedcare.models._personalise import ConstantRisk, personalise
from fedcare.privacy import membership_inference_auc

__all__ = ["ENGINES", "StudyResult", "federation_result", "run_study"]



Progress = Callable[[str], None]


@dataclass
class StudyResult:
    """What a study produced, in the shared ``metrics.json`` layout (see :meth:`to_dict`)."""

    config: StudyConfig
    sites: dict[str, dict[str, Any]]
    excluded_sites: dict[str, str]
    results: dict[str, dict[str, Any]]
    convergence: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calibration: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    schema: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    missing_rounds: dict[str, list[int]] = field(default_factory=dict)
    quality: dict[str, Any] | None = None
    images: dict[str, Any] | None = None

    live: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``sites``, ``results`` (per setting), curves and provenance.

        ``quality`` holds the data-quality findings and tables (None when
        ``quality_check = "off"``); ``quality_check`` the setting and
        ``quality_override`` the blocking findings a ``"warn"`` study trained despite;
        ``federation`` is ``"live"`` (the sites' figures only) or ``"embedded"``;
        ``features`` the model's input columns, ``identifiers_refused`` the columns not
        used because they identify people, ``imputed`` feature -> federated mean.
        """
        quality = self.quality or {}
        return {
            "federation": "live" if self.live else "embedded",
            "quality_check": self.config.quality_check,
            "quality_override": list(quality.get("override") or []),
            "features": list(self.schema.get("encoded_feature_names", [])),
            "identifiers_refused": dict(self.schema.get("identifiers_refused") or {}),
            "imputed": dict(self.schema.get("imputed") or {}),
            "features_dropped": dict(self.schema.get("features_dropped") or {}),
            "study": self.config.to_dict(),
            "sites": self.sites,
            "excluded_sites": self.excluded_sites,
            "missing_rounds": self.missing_rounds,
            "quality": self.quality,
            "results": self.results,
            "convergence": self.convergence,
            "calibration": self.calibration,
            "schema": self.schema,
            "model": self.model,
            "known_directions": self.known_directions,
            **({"images": self.images} if self.images is not None else {}),
        }

    @cached_property
    def known_directions(self) -> dict[str, Any] | None:
        """The federated model checked against known medicine (computed once)."""
        return known_directions(self.config, self.schema, self.model)


def known_directions(config: StudyConfig, schema: Mapping[str, Any],
                     model: Mapping[str, Any]) -> dict[str, Any] | None:
    """The federated model's effects checked against settled risk factors
    (:func:`fedcare.explain._expected.check_directions`); None without a model."""
    if not model.get("arrays") or not schema.get("features"):
        return None
    from fedcare.data._codebook import codebook_for, outcome_for
    from fedcare.explain import RiskModel

    width = len(schema.get("encoded_feature_names") or [])
    standardiser = model.get("standardiser") or {"mean": [0.0] * width,
                                                 "scale": [1.0] * width}
    risk = RiskModel(str(model["kind"]), list(model["arrays"]), standardiser, dict(schema),
                     codebook=codebook_for(schema, config.data),
                     outcome=outcome_for(schema, config.data).label)
    return risk.known_directions(z=_wald_z(risk, model))


def _wald_z(risk: Any, model: Mapping[str, Any]) -> dict[str, float] | None:
    """Feature -> coefficient / standard error of its (first) column, for a logistic model
    with Wald standard errors (the Newton strategy's); None otherwise."""
    se = model.get("standard_errors")
    if model.get("kind") != "logistic" or not se:
        return None
    coef = np.asarray(model["arrays"][0], dtype=np.float64).ravel()
    errors = np.asarray(se, dtype=np.float64)[:-1]
    if errors.shape != coef.shape:
        return None
    return {name: float(coef[cols[0]] / errors[cols[0]]) for name, cols in risk._groups
            if cols}


def _check_missing_codes(config: StudyConfig) -> None:
    """Missing-value codes must name feature columns of the table (one clear error here,
    not one per site)."""
    if not config.missing_codes:
        return
    columns = [str(c) for c in read_study_table(config.data, config.data_dir).columns]
    roles = study_roles(config)
    for name in config.missing_codes:
        if name in (roles.site_column, roles.target):
            raise DataError(f"missing_codes: '{name}' is the "
                            f"{'site' if name == roles.site_column else 'outcome'} column; "
                            "only feature values can be declared missing")
        if name not in columns:
            raise DataError(f"missing_codes: no column '{name}' in {config.data}"
                            + did_you_mean(name, columns))


def _checked_table(config: StudyConfig) -> Cohort:
    """The whole table, validated as the sites will read it: rows missing a numeric value
    kept under ``missing = "impute"``; without a feature list, the columns that identify
    people left out (each site finds and refuses them again on its own rows)."""
    keep = config.missing in ("impute", "drop-feature")
    if config.features or config.data == HEART:
        return load_study_cohort(config, keep_missing=keep)
    frame = read_frame(config.data)
    others = [str(c) for c in frame.columns if str(c) not in (config.site_column,
                                                              config.target)]
    ids = identifier_columns(frame, others)
    if not ids:
        return load_study_cohort(config, keep_missing=keep)
    return load_study_cohort(config.replace(features=[c for c in others if c not in ids]),
                             keep_missing=keep)


def _splits(config: StudyConfig, schema: dict[str, Any], sites: list[str]
            ) -> dict[str, SiteSplit]:
    """Every site's rows as the site itself prepared them (its missing-value codes
    recoded, imputed with the federated means, encoded with the agreed schema)."""
    if config.images:
        return {name: image_prepared(config, name).split for name in sites}
    agreed = Schema.from_dict(schema)
    return {name: site(config, name).split(agreed) for name in sites}


def _predict(config: StudyConfig, arrays: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    if config.model == "logistic":
        model: Any = LogisticRegression(C=config.C).set_arrays(arrays)
    else:
        model = make_model(config.model, random_state=config.seed).set_arrays(arrays)
    return np.asarray(model.predict_proba(X)[:, 1])


def _local_risk(config: StudyConfig, split: SiteSplit) -> np.ndarray:
    """Each test row scored by its own site's local-only model (as the site computes it)."""
    own = (Standardiser.identity(split.X_train.shape[1]) if config.images
           else Standardiser.fit(split.X_train))
    if len(np.unique(split.y_train)) < 2:
        return np.asarray(ConstantRisk(float(np.mean(split.y_train)))
                          .predict_proba(split.X_test)[:, 1])
    if config.model == "logistic":
        model: Any = LogisticRegression(C=config.C)
    else:
        model = make_model(config.model, random_state=config.seed)
    model.fit(own.transform(split.X_train), split.y_train)
    return np.asarray(model.predict_proba(own.transform(split.X_test))[:, 1])


def _personalised_risk(config: StudyConfig, arrays: list[np.ndarray], X_train: np.ndarray,
                       X_test: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    """Each test row scored by its own site's personalised model (as the site adapts it)."""
    if config.model == "logistic":
        model: Any = LogisticRegression(C=config.C).set_arrays(arrays)
    else:
        model = make_model(config.model, random_state=config.seed).set_arrays(arrays)
    adapted = personalise(model, X_train, y_train, method=personalise_method(config),
                          seed=config.seed)
    return np.asarray(adapted.predict_proba(X_test)[:, 1])


def _summary(per_site: dict[str, dict[str, Any]], y: np.ndarray | None,
             p: np.ndarray | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "per_site": per_site,
        "mean_client_accuracy": float(np.mean([m["accuracy"] for m in per_site.values()])),
    }
    if y is not None and p is not None:
        m = binary_metrics(y, p)
        out["pooled_test"] = {k: m[k] for k in ("accuracy", "auc", "brier")}
        out["pooled_test"]["baseline_accuracy"] = baseline_accuracy(int(y.sum()), len(y))
    else:  # exact from counts, without any row leaving a site
        n = sum(int(v["n"]) for v in per_site.values())
        correct = sum(float(v["accuracy"]) * int(v["n"]) for v in per_site.values())
        briers = [(v.get("brier"), int(v["n"])) for v in per_site.values()]
        known = [(float(b), w) for b, w in briers if b is not None]
        brier = (sum(b * w for b, w in known) / n
                 if n and len(known) == len(briers) else None)
        events = [int(e) for e in (v.get("n_events") for v in per_site.values())
                  if e is not None]
        base = (baseline_accuracy(sum(events), n)
                if n and len(events) == len(per_site) else None)
        out["pooled_test"] = {"accuracy": correct / n, "auc": None, "brier": brier,
                              "baseline_accuracy": base}
    return out


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Observed event rate against mean predicted risk in ``bins`` risk deciles."""
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    out: dict[str, list[float]] = {"predicted": [], "observed": [], "n": []}
    for b in range(len(edges) - 1):
        mask = which == b
        if mask.any():
            out["predicted"].append(float(p[mask].mean()))
            out["observed"].append(float(y[mask].mean()))
            out["n"].append(float(mask.sum()))
    return out


def _per_site(fed: FederatedRun, setting: str) -> dict[str, dict[str, Any]]:
    """The per-site metrics of ``setting`` as the sites reported them."""
    out = {}
    for name, m in fed.per_site[setting].items():
        row = {k: m.get(k) for k in ("accuracy", "auc", "brier", "calibration_slope",
                                      "calibration_intercept")}
        row["n"] = m["num-examples"]
        row["n_events"] = m.get("n-events")
        for extra in ("method", "model"):
            if extra in m:
                row[extra] = m[extra]
        out[name] = row
    return out


def _privacy(config: StudyConfig, fed: FederatedRun) -> dict[str, Any] | None:
    """What the run spent: the coordinator's (client level) or each site's (record level)."""
    if fed.privacy:
        return dict(fed.privacy)
    if not config.dp_epsilon:
        return None
    site_metrics = fed.per_site["federated"]
    return {
        "level": "record (DP-SGD at every site)", "target_epsilon": config.dp_epsilon,
        "delta": config.dp_delta, "max_grad_norm": config.dp_max_grad_norm,
        "epsilon_spent": {s: m.get("dp-epsilon") for s, m in site_metrics.items()},
        "noise_multiplier": {s: m.get("dp-noise-multiplier") for s, m in site_metrics.items()},
    }


def _secure(fed: FederatedRun) -> dict[str, Any] | None:
    """How SecAgg+ summed (its stated error bound per message type), for the results."""
    return None if fed.secure is None else dataclasses.asdict(fed.secure)


def _sites(fed: FederatedRun) -> dict[str, dict[str, Any]]:
    return {name: dataclasses.asdict(info) for name, info in fed.sites.items()}


def _model(config: StudyConfig, fed: FederatedRun) -> dict[str, Any]:
    return {"kind": config.model, "arrays": fed.arrays, "standardiser": fed.standardiser,
            "feature_names": fed.schema["encoded_feature_names"],
            "standard_errors": fed.standard_errors}


def federation_result(config: StudyConfig, fed: FederatedRun | dict[str, Any],
                      seconds: float) -> StudyResult:
    """The metrics.json layout from a live federation's result alone (no table here).

    Per-site figures are those the sites sent; pooled-test accuracy is exact from their
    counts; pooled-test AUC, the pooled model and calibration curves need the rows and
    are absent. The convergence curve is the sites' test accuracy and loss per round.
    """
    if isinstance(fed, dict):
        fed = FederatedRun.from_dict(fed)
    tag = config.label
    results: dict[str, dict[str, Any]] = {
        "local": {**_summary(_per_site(fed, "local"), None, None), "rounds": 0,
                  "seconds": None},
        f"federated:{tag}": {**_summary(_per_site(fed, "federated"), None, None),
                             "rounds": fed.converged_round or config.rounds, "seconds": seconds},
        f"personalised:{tag}": {**_summary(_per_site(fed, "personalised"), None, None),
                                "rounds": fed.converged_round or config.rounds, "seconds": None},
    }
    privacy = _privacy(config, fed)
    if privacy:
        results[f"federated:{tag}"]["privacy"] = privacy
    secure = _secure(fed)
    if secure:
        results[f"federated:{tag}"]["secure_aggregation"] = secure
    curve = [{"round": e.round, "accuracy": e.accuracy, "auc": None,
              "test_loss": e.test_loss, "train_loss": e.train_loss,
              "seconds": e.seconds} for e in fed.history]
    return StudyResult(
        config=config, sites=_sites(fed), excluded_sites=fed.excluded_sites, results=results,
        convergence={f"federated:{tag}": curve}, calibration={}, schema=fed.schema,
        missing_rounds=fed.missing_rounds, quality=fed.quality, model=_model(config, fed),
        live=True,
    )


def run_study(
    config: StudyConfig, *, cohort: Cohort | None = None, pooled: bool = True,
    progress: Progress | None = None, engine: str = "inprocess",
    on_round: Callable[[], None] | None = None,
) -> StudyResult:
    """Run local-only, federated, personalised and (optionally) pooled on one table.

    Parameters
    ----------
    config : StudyConfig
    cohort : Cohort, optional
        Already-loaded table: only its site names are used (else read from ``config``);
        every site, in the federated run and for the pooled and local references,
        prepares its own rows the same way (missing codes, imputation, encoding).
    pooled : bool
        Fit the pooled model (all rows in one place) as the upper reference.
    progress : callable, optional
        Called with a short text at each stage.
    engine : {"inprocess", "simulation"}
        Where the Flower apps run.
    on_round : callable, optional
        Called after each training round (in-process engine only).

    Raises
    ------
    ConfigError
        ``engine`` is not one of :data:`ENGINES`.
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {list(ENGINES)}, got '{engine}'")
    say = progress or (lambda _text: None)
    if config.images:  # the labels table checked first; each site checks its own files
        sites = image_study_sites(config)
    else:
        if cohort is None:  # the whole table checked first: a clear error before any site
            cohort = _checked_table(config)
            _check_missing_codes(config)
        sites = sorted(cohort.sites)
    if len(sites) < 2:
        raise DataError(f"column '{config.site_column}' (site column) names {len(sites)} "
                        "site: a federated study needs at least 2 sites")
    say(f"federated study: {len(sites)} sites, strategy {config.strategy}, "
        f"{config.rounds} rounds ({engine})")
    started = time.perf_counter()
    if engine == "simulation":
        fed = FederatedRun.from_dict(run_simulation(config.to_run_config(), len(sites)))
    else:
        def on_send(message_type: str) -> None:
            if on_round is not None and message_type.startswith("train"):
                on_round()

        raw, _ = run_inprocess(config.to_run_config(), sites, on_send=on_send)
        fed = FederatedRun.from_dict(raw)
    fed_seconds = time.perf_counter() - started
    included = sorted(fed.per_site["federated"])
    splits = _splits(config, fed.schema, included)
    std = (Standardiser(np.asarray(fed.standardiser["mean"]),
                        np.asarray(fed.standardiser["scale"]))
           if fed.standardiser else None)
    y_test = np.concatenate([splits[s].y_test for s in included])

    def transform(X: np.ndarray, site: str) -> np.ndarray:
        if std is not None:
            return std.transform(X)
        if config.standardise == "local":
            return Standardiser.fit(splits[site].X_train).transform(X)
        return X

    X_test_std = np.concatenate([transform(splits[s].X_test, s) for s in included])

    def per_site(setting: str) -> dict[str, dict[str, Any]]:
        return _per_site(fed, setting)

    tag = config.label
    arrays = fed.numpy()
    p_fed = _predict(config, arrays, X_test_std)
    results: dict[str, dict[str, Any]] = {}
    p_local = np.concatenate([_local_risk(config, splits[s]) for s in included])
    results["local"] = {**_summary(per_site("local"), y_test, p_local), "rounds": 0,
                        "seconds": None}
    X_train_std = np.concatenate([transform(splits[s].X_train, s) for s in included])
    y_train = np.concatenate([splits[s].y_train for s in included])
    mia = membership_inference_auc(y_train, _predict(config, arrays, X_train_std), y_test,
                                   p_fed)
    results[f"federated:{tag}"] = {**_summary(per_site("federated"), y_test, p_fed),
                                  "rounds": fed.converged_round or config.rounds,
                                  "seconds": fed_seconds,
                                  "membership_inference_auc": mia}
    privacy = _privacy(config, fed)
    if privacy:
        results[f"federated:{tag}"]["privacy"] = privacy
    secure = _secure(fed)
    if secure:
        results[f"federated:{tag}"]["secure_aggregation"] = secure
    p_personal = np.concatenate([
        _personalised_risk(config, arrays, transform(splits[s].X_train, s),
                           transform(splits[s].X_test, s), splits[s].y_train)
        for s in included])
    results[f"personalised:{tag}"] = {**_summary(per_site("personalised"), y_test,
                                                 p_personal),
                                     "rounds": fed.converged_round or config.rounds,
                                     "seconds": None}
    calibration = {f"federated:{tag}": calibration_curve(y_test, p_fed)}
    curve = []
    for entry in fed.history:
        p = _predict(config, entry.numpy(), X_test_std)
        m = binary_metrics(y_test, p)
        curve.append({"round": entry.round, "accuracy": m["accuracy"], "auc": m["auc"],
                      "test_loss": entry.test_loss, "train_loss": entry.train_loss,
                      "seconds": entry.seconds})
    convergence = {f"federated:{tag}": curve}
    if pooled:
        say("pooled reference model (all rows in one place)")
        t0 = time.perf_counter()
        X_train = np.concatenate([splits[s].X_train for s in included])
        pooled_std = (Standardiser.identity(X_train.shape[1]) if config.images
                      else Standardiser.fit(X_train))
        if config.model == "logistic":
            model: Any = LogisticRegression(C=config.C)
        else:
            model = make_model(config.model, random_state=config.seed)
        model.fit(pooled_std.transform(X_train), y_train)
        rows = {}
        for s in included:
            ps = model.predict_proba(pooled_std.transform(splits[s].X_test))[:, 1]
            m = binary_metrics(splits[s].y_test, ps)
            row = {k: m[k] for k in ("accuracy", "auc", "brier", "calibration_slope",
                                     "calibration_intercept", "n")}
            # the small-cell rule the sites apply to every other setting applies here too
            events = int(splits[s].y_test.sum())
            if min(events, len(splits[s].y_test) - events) < config.min_cell:
                row.update(auc=None, calibration_slope=None, calibration_intercept=None)
            rows[s] = row
        X_all = np.concatenate([splits[s].X_test for s in included])
        p_pool = model.predict_proba(pooled_std.transform(X_all))[:, 1]
        p_pool_train = model.predict_proba(pooled_std.transform(X_train))[:, 1]
        results["pooled"] = {**_summary(rows, y_test, p_pool), "rounds": 0,
                             "seconds": time.perf_counter() - t0,
                             "membership_inference_auc": membership_inference_auc(
                                 y_train, p_pool_train, y_test, p_pool)}
        calibration["pooled"] = calibration_curve(y_test, p_pool)
    images = None
    if config.images:
        say("occlusion saliency of the federated model on test slices")
        images = image_section(config, arrays, splits)
    return StudyResult(
        config=config, sites=_sites(fed), excluded_sites=fed.excluded_sites, results=results,
        convergence=convergence, calibration=calibration, schema=fed.schema,
        missing_rounds=fed.missing_rounds, quality=fed.quality, model=_model(config, fed),
        images=images,
    )


def image_section(config: StudyConfig, arrays: list[np.ndarray],
                  splits: dict[str, SiteSplit], per_class: int = 1) -> dict[str, Any]:
    """An image study's extra section: the slices' size and whether they are synthetic,
    and per site ``per_class`` test slices of each class with the federated model's
    probability and occlusion saliency (base64 PNG). Computed here, where the slices are
    (an embedded study); a saliency map is an image of the patient and stays with it."""
    from pathlib import Path

    from fedcare.imaging import SYNTHETIC_MARKER, occlusion_saliency, saliency_png

    model = make_model("cnn", random_state=config.seed).set_arrays(arrays)
    examples = []
    for name in sorted(splits):
        split = splits[name]
        for label in (1, 0):
            for i in np.flatnonzero(split.y_test == label)[:per_class]:
                saliency, p = occlusion_saliency(model, split.X_test[i])
                examples.append({
                    "site": name, "label": int(label), "probability": p,
                    "png": saliency_png(split.X_test[i], saliency,
                                        title=f"{name}: {'finding' if label else 'none'}, "
                                              f"p = {p:.2f}")})
    return {"size": config.image_size, "modality": config.modality,
            "synthetic": (Path(config.images) / SYNTHETIC_MARKER).is_file(),
            "saliency": examples}
