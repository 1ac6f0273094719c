"""A registered model ready to use: validate patients, predict, explain."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fedcare.data._codebook import Meaning, codebook_for, outcome_for
from fedcare.data._cohort import MISSING_LEVEL, Feature, Schema, level_of
from fedcare.data._standardise import Standardiser
from fedcare.data._units import convert, default_range, quantity_for
from fedcare.exceptions import DataError
from fedcare.explain._contributions import contributions
from fedcare.models import LogisticRegression, make_model

__all__ = ["Explanation", "InputError", "PatientInputError", "RiskModel"]


@dataclass(frozen=True)
class InputError:
    """One problem with one field of one patient (never the value itself)."""

    row: int
    field: str
    message: str
    kind: str

    def to_dict(self, *, single: bool = False) -> dict[str, Any]:
        """FastAPI-style error entry: location, message, type.

        ``single``: the request held one patient (``{"patient": {...}}``), so the location
        is ``["body", "patient", field]``; a batch's is ``["body", "patients", row, field]``.
        """
        where: list[Any] = ["body", "patient"] if single else ["body", "patients", self.row]
        if self.field != "*":  # "*": the patient itself (not an object)
            where.append(self.field)
        return {"loc": where, "msg": self.message, "type": self.kind}

    def path(self, *, single: bool = False) -> str:
        """The location in words: ``patient.chol`` or ``patients[1].chol``."""
        head = "patient" if single else f"patients[{self.row}]"
        return head if self.field == "*" else f"{head}.{self.field}"


class PatientInputError(DataError):
    """Patients that fail validation; ``errors`` says which field of which row and why.

    ``single`` is true when one patient was validated: the message then names the field
    (``patient.chol: ...``), a batch's names the row too (``patients[3].chol: ...``).
    """

    def __init__(self, errors: list[InputError], *, single: bool = False) -> None:
        self.errors = errors
        self.single = single
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first.path(single=single)}: {first.message}{more}")


@dataclass
class Explanation:
    """Why the model gives one patient its risk.

    ``base_log_odds + sum(contributions.values()) == log_odds`` (exactly for linear models,
    to floating-point precision for SHAP).
    """

    risk: float
    log_odds: float
    base_log_odds: float
    contributions: dict[str, float]
    method: str
    top_factors: list[str] = field(default_factory=list)
    #: Every feature, largest |contribution| first: value, what a code means, the signed
    #: contribution, its direction ("raises risk" / "lowers risk" / "little effect") and
    #: one line of text.
    factors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"risk": self.risk, "log_odds": self.log_odds, "base_log_odds": self.base_log_odds,
                "base_risk": _sigmoid(self.base_log_odds), "contributions": self.contributions,
                "method": self.method, "top_factors": self.top_factors,
                "factors": self.factors}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


#: How UCUM codes read to a clinician.
_SAY_UNIT = {"a": "years", "mm[Hg]": "mmHg", "Cel": "°C", "[degF]": "°F", "[lb_av]": "lb",
             "[in_i]": "in", "/min": "/min"}


def say_unit(unit: str | None) -> str:
    """A UCUM code as people write it (``mm[Hg]`` -> ``mmHg``, ``a`` -> ``years``)."""
    return _SAY_UNIT.get(unit, unit) if unit else ""


#: A numeric value further than this many training SDs from the training mean is refused
#: (a feature without a known plausible range: a unit or typing error, or a code).
MAX_SD_FROM_MEAN = 10.0


def _with_plausible_ranges(schema: Schema) -> Schema:
    """Numeric features without a declared range get the plausible range of their
    quantity where fedcare knows it from the name (cholesterol 50-1000 mg/dL, age 0-120
    years, ...), as the data-quality check uses."""
    features = []
    for f in schema.features:
        if f.kind == "numeric" and f.valid_range is None:
            quantity = quantity_for(f.name)
            unit = f.unit or (quantity.canonical if quantity is not None else None)
            known = default_range(f.name, unit) if unit else None
            if known is not None:
                f = replace(f, valid_range=(float(known[0]), float(known[1])),
                            unit=f.unit or unit)
        features.append(f)
    return replace(schema, features=tuple(features))


def _range_text(f: Feature) -> str:
    assert f.valid_range is not None
    low, high = (f"{v:g}" for v in f.valid_range)
    return f"between {low} and {high}" + (f" {say_unit(f.unit)}" if f.unit else "")


def _number(raw: Any) -> float | None:
    """A JSON number (or bool) as a finite float; None for anything else."""
    if isinstance(raw, bool):
        return float(raw)
    if not isinstance(raw, int | float):
        return None
    try:
        value = float(raw)
    except OverflowError:  # an integer too large for a float
        return None
    return value if math.isfinite(value) else None


#: Contributions and effects smaller than this (log-odds) are "barely" an effect in words.
SMALL_EFFECT = 0.05


def direction(log_odds: float) -> str:
    """``raises risk`` (> 0), ``lowers risk`` (< 0) or ``little effect`` (|log-odds| below
    :data:`SMALL_EFFECT`): the words of a signed contribution or effect."""
    if abs(log_odds) < SMALL_EFFECT:
        return "little effect"
    return "raises risk" if log_odds > 0 else "lowers risk"


def _nice_step(sd: float) -> float:
    """A round step near one SD (1, 2, 2.5 or 5 x 10^k) to state a numeric effect per."""
    if not math.isfinite(sd) or sd <= 0:
        return 1.0
    exponent = math.floor(math.log10(sd))
    candidates = [m * 10.0 ** e for e in (exponent - 1, exponent, exponent + 1)
                  for m in (1.0, 2.0, 2.5, 5.0)]
    return float(min(candidates, key=lambda c: abs(math.log(c / sd))))


class RiskModel:
    """A model as registered: schema, standardiser and parameters.

    Parameters
    ----------
    kind : {"logistic", "mlp"}
    arrays : list of array-like
        The model's parameter arrays.
    standardiser : dict
        ``{"mean": [...], "scale": [...]}`` over the encoded columns.
    schema : dict
        :meth:`fedcare.data.Schema.to_dict` output.
    codebook : dict, optional
        Feature name -> :class:`fedcare.data._codebook.Meaning` (what coded values mean);
        default: what the schema itself declares.
    outcome : str, optional
        The outcome in words ("heart disease"); default: the target column's name.
    """

    def __init__(self, kind: str, arrays: list[Any], standardiser: dict[str, Any],
                 schema: dict[str, Any], *, codebook: Mapping[str, Meaning] | None = None,
                 outcome: str | None = None) -> None:
        self.kind = kind
        self.schema = _with_plausible_ranges(Schema.from_dict(schema))
        self.standardiser = Standardiser(np.asarray(standardiser["mean"]),
                                         np.asarray(standardiser["scale"]))
        params = [np.asarray(a, dtype=np.float64) for a in arrays]
        self.model: Any = (LogisticRegression().set_arrays(params) if kind == "logistic"
                           else make_model(kind).set_arrays(params))
        self._groups = self._column_groups()
        self._shap: Any = None
        self.codebook: dict[str, Meaning] = dict(codebook if codebook is not None
                                                 else codebook_for(schema))
        self.outcome = outcome or f"'{self.schema.target}'"
        self.outcome_label = outcome
        self._effects: dict[tuple[int, int], list[dict[str, Any]]] = {}

    @classmethod
    def from_record(cls, record: Any) -> RiskModel:
        """From a :class:`fedcare.registry.ModelRecord` (codebook from its study's data)."""
        data = ((record.provenance or {}).get("settings") or {}).get("data")
        outcome = outcome_for(record.schema, data).label
        return cls(record.kind, record.arrays, record.standardiser, record.schema,
                   codebook=codebook_for(record.schema, data), outcome=outcome)

    @property
    def features(self) -> tuple[Feature, ...]:
        """The input features, in order."""
        return self.schema.features

    def _column_groups(self) -> list[tuple[str, list[int]]]:
        groups, start = [], 0
        for f in self.features:
            width = len(f.encoded_names)
            groups.append((f.name, list(range(start, start + width))))
            start += width
        return groups

    def meaning(self, name: str) -> Meaning:
        """What feature ``name`` and its codes mean (empty when not documented)."""
        return self.codebook.get(name) or Meaning()

    def say_code(self, name: str, code: object) -> str:
        """``4 (asymptomatic)`` for a documented code, else just ``4``."""
        shown = level_of(code)
        meaning = self.meaning(name).say(shown)
        return f"{shown} ({meaning})" if meaning else shown

    # -- input ------------------------------------------------------------------------
    def _accepted(self, f: Feature) -> str:
        levels = f.categories if f.kind == "categorical" else ("0", "1")
        return ", ".join(self.say_code(f.name, level) for level in levels)

    @staticmethod
    def _unit_hint(f: Feature) -> str:
        """What a unit that cannot be converted should have been (never the unit sent)."""
        known = quantity_for(f.name)
        units = [f.unit or ""] + [u for u in (known.units if known else ()) if u != f.unit]
        shown = say_unit(f.unit)
        return (f"unit cannot be converted to {shown}"
                + (f" (UCUM {f.unit})" if shown != f.unit else "")
                + "; send a UCUM unit of the same quantity"
                + (f", e.g. {' or '.join(units)}" if len(units) > 1 else ""))

    def _value(self, f: Feature, raw: Any, row: int, errors: list[InputError]) -> Any:
        unit: Any = None
        if isinstance(raw, dict) and f.kind == "numeric":
            unit = raw.get("unit")
            if (set(raw) - {"value", "unit"} or "value" not in raw or "unit" not in raw
                    or not isinstance(unit, str) or not 0 < len(unit) <= 32):
                errors.append(InputError(row, f.name, "expected a number"
                                         + (f" in {say_unit(f.unit)}" if f.unit else "")
                                         + " or {\"value\": number, \"unit\": UCUM code}",
                                         "type"))
                return None
            raw = raw["value"]
        if f.kind == "categorical":
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                errors.append(InputError(row, f.name, "expected one of "
                                         + self._accepted(f), "type"))
                return None
            level = level_of(raw)
            if level not in f.categories:
                errors.append(InputError(row, f.name, "must be one of " + self._accepted(f),
                                         "value_error.level"))
                return None
            return level
        value = _number(raw)
        if f.kind == "binary":
            if value is None or value not in (0.0, 1.0):
                codes = self._accepted(f)
                errors.append(InputError(row, f.name, "must be 0 or 1"
                                         + (f": {codes}" if codes != "0, 1" else ""),
                                         "type" if value is None else "value_error.binary"))
                return None
            return value
        if value is None:
            errors.append(InputError(row, f.name, "expected a finite number"
                                     + (f" in {say_unit(f.unit)}" if f.unit else ""), "type"))
            return None
        if unit is not None and f.unit is not None and unit != f.unit:
            try:
                value = float(convert([value], str(unit), f.unit,
                                      quantity=quantity_for(f.name), feature=f.name)[0])
            except DataError:
                # the unit sent is part of the value received: not echoed
                errors.append(InputError(row, f.name, self._unit_hint(f), "value_error.unit"))
                return None
        elif unit is not None and f.unit is None:
            errors.append(InputError(row, f.name, "this feature has no unit; send a plain "
                                     "number", "value_error.unit"))
            return None
        if f.valid_range is not None and not (f.valid_range[0] <= value <= f.valid_range[1]):
            errors.append(InputError(row, f.name, f"must be {_range_text(f)}",
                                     "value_error.range"))
            return None
        if f.valid_range is None:
            column = self.schema.feature_names.index(f.name)
            mean = float(self.standardiser.mean[column])
            sd = float(self.standardiser.std[column])
            moments_known = not (mean == 0.0 and sd == 1.0)  # not an identity scaling
            if moments_known and sd > 0 and abs(value - mean) > MAX_SD_FROM_MEAN * sd:
                errors.append(InputError(
                    row, f.name, f"far outside the values the model was trained on (more "
                    f"than {MAX_SD_FROM_MEAN:g} SD from their mean); check the value"
                    + (f" and its unit ({say_unit(f.unit)})" if f.unit else "")
                    + " or send a missing value as null where the model imputes it",
                    "value_error.range"))
                return None
        return value

    def validate(self, patients: list[dict[str, Any]], *, single: bool | None = None
                 ) -> np.ndarray:
        """Check every field of every patient and encode them.

        Parameters
        ----------
        patients : list of dict
        single : bool, optional
            Whether the caller sent one patient (not a batch): errors are then reported
            at ``patient.<field>``, not ``patients[0].<field>``. Default: one patient.

        Returns
        -------
        X : ndarray of shape (n_patients, n_encoded_features)

        Raises
        ------
        PatientInputError
            With one :class:`InputError` per bad field (missing, unknown, wrong type,
            unknown level, unconvertible unit, outside the plausible range).
        """
        errors: list[InputError] = []
        names = {f.name for f in self.features}
        X = np.zeros((len(patients), len(self.schema.feature_names)))
        for i, patient in enumerate(patients):
            if not isinstance(patient, dict):
                errors.append(InputError(i, "*", "expected an object of feature values",
                                         "type"))
                continue
            for extra in sorted(set(patient) - names, key=str):
                errors.append(InputError(i, str(extra)[:64], "unknown field; expected "
                                         + ", ".join(sorted(names)), "value_error.extra"))
            for f, (_, cols) in zip(self.features, self._groups, strict=True):
                if (f.name not in patient or patient[f.name] is None) and (
                        MISSING_LEVEL in f.categories):
                    # not recorded: its own level, as in training
                    X[i, cols[f.categories.index(MISSING_LEVEL) - 1]] = 1.0
                    continue
                if (f.name not in patient or patient[f.name] is None) and (
                        f.impute is not None):
                    # not recorded: the federated mean, flagged, as in training
                    X[i, cols[0]], X[i, cols[1]] = f.impute, 1.0
                    continue
                if f.name not in patient or patient[f.name] is None:
                    errors.append(InputError(i, f.name, "field required"
                                             + (f" (in {say_unit(f.unit)})" if f.unit else ""),
                                             "missing"))
                    continue
                value = self._value(f, patient[f.name], i, errors)
                if value is None:
                    continue
                if f.kind == "categorical":  # one-hot, first level dropped (as encode does)
                    position = f.categories.index(value)
                    if position:
                        X[i, cols[position - 1]] = 1.0
                else:
                    X[i, cols[0]] = value
        if errors:
            raise PatientInputError(errors, single=(len(patients) == 1 if single is None
                                                    else single))
        return X

    # -- output -----------------------------------------------------------------------
    def log_odds(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of the outcome for encoded rows."""
        Z = self.standardiser.transform(X)
        if self.kind == "logistic":  # the estimator's decision_function without its checks
            return np.asarray(Z @ self.model.coef_.ravel() + self.model.intercept_[0])
        return np.asarray(self.model.decision_function(Z))

    def predict(self, patients: list[dict[str, Any]]) -> np.ndarray:
        """Risk (probability of the outcome) of each patient, validated first."""
        z = self.log_odds(self.validate(patients))
        return 1.0 / (1.0 + np.exp(-z))

    def explain(self, patients: list[dict[str, Any]], *, top: int = 3,
                single: bool | None = None) -> list[Explanation]:
        """Per-feature signed contributions to each patient's log-odds, with the factors
        in words (largest first) and the ``top`` of them as sentences."""
        X = self.validate(patients, single=single)
        z = self.log_odds(X)
        base, per_feature, method = contributions(self, X)
        out = []
        for i in range(len(patients)):
            contrib = {name: float(per_feature[i, j]) for j, (name, _) in enumerate(self._groups)}
            factors, sentences = self._factors(contrib, X[i])
            out.append(Explanation(
                risk=_sigmoid(float(z[i])), log_odds=float(z[i]), base_log_odds=float(base),
                contributions=contrib, method=method, top_factors=sentences[:top],
                factors=factors))
        return out

    def _shown(self, f: Feature, cols: list[int], row: np.ndarray) -> tuple[Any, str]:
        """A patient's (validated, converted) value of ``f`` and how it reads."""
        if f.kind == "categorical":
            hot = [k for k, c in enumerate(cols) if row[c] == 1.0]
            level = f.categories[hot[0] + 1] if hot else f.categories[0]
            return level, self.say_code(f.name, level)
        value = float(row[cols[0]])
        if f.impute is not None and len(cols) > 1 and row[cols[1]] == 1.0:
            return "not recorded", "not recorded (the federated mean was used)"
        if f.kind == "binary":
            return int(value), self.say_code(f.name, int(value))
        unit = say_unit(f.unit)
        return value, f"{value:g}" + (f" {unit}" if unit else "")

    def say_feature(self, name: str) -> str:
        """``cp (chest pain type)`` where the feature is documented, else ``cp``."""
        label = self.meaning(name).label
        return f"{name} ({label})" if label and label != name else name

    def _effect_words(self, value: float) -> str:
        """``raises the risk of heart disease`` (> 0), ``lowers ...`` (< 0) or ``barely
        changes ...`` (|value| < :data:`SMALL_EFFECT`)."""
        if abs(value) < SMALL_EFFECT:
            return f"barely changes the risk of {self.outcome}"
        return f"{'raises' if value > 0 else 'lowers'} the risk of {self.outcome}"

    def _factors(self, contrib: dict[str, float], row: np.ndarray
                 ) -> tuple[list[dict[str, Any]], list[str]]:
        """Every feature's factor (largest |contribution| first) and its sentence."""
        out = []
        for f, (name, cols) in zip(self.features, self._groups, strict=True):
            value, shown = self._shown(f, cols, row)
            c = contrib[name]
            meaning = self.meaning(name)
            head = f"{self.say_feature(name)} = {shown}"
            words = self._effect_words(c)
            signed = f"{c:+.2f}" if abs(c) >= 0.005 else "0.00"
            factor = {
                "feature": name, "label": meaning.label, "value": value,
                "unit": f.unit if f.kind == "numeric" else None,
                "meaning": meaning.say(value) if f.kind != "numeric" else None,
                "contribution": c, "direction": direction(c),
                "text": f"{head}: {words} ({signed} log-odds)"}
            sentence = f"{head} {words} ({signed} log-odds vs. the study's average patient)"
            out.append((factor, sentence))
        out.sort(key=lambda fs: -abs(fs[0]["contribution"]))
        return [f for f, _ in out], [s for _, s in out]

    def global_importance(self, n_reference: int = 200, seed: int = 0) -> dict[str, float]:
        """Mean absolute contribution of each feature over a synthetic reference sample.

        No patient rows exist where the model is served, so the reference patients are
        drawn from the federated moments (independent features: normal for numeric
        columns, Bernoulli/multinomial for binary and categorical ones). Sorted, largest
        first. It says how much a feature moves predictions, not which way: see
        :meth:`effects` for the signed effects.
        """
        X = self.reference_sample(n_reference, seed)
        _, per_feature, _ = contributions(self, X)
        means = np.abs(per_feature).mean(axis=0)
        ranked = sorted(zip([g[0] for g in self._groups], means, strict=True),
                        key=lambda kv: -kv[1])
        return {name: float(v) for name, v in ranked}

    def effects(self, n_reference: int = 200, seed: int = 0) -> list[dict[str, Any]]:
        """The signed effect of every feature on the log-odds, most important first.

        Per feature: ``importance`` (as :meth:`global_importance`) and ``effects``, one
        comparison each — a numeric feature one round step (near one SD) higher, a binary
        one 1 vs 0, each level of a categorical one vs its reference (first) level — with
        the change in log-odds (signed), the odds ratio and ``direction`` ("raises risk",
        "lowers risk", or "little effect" below 0.05 log-odds). A feature imputed in
        training (a missing-value indicator column) gets one more row, "not recorded vs
        recorded" (the filled-in mean with the indicator 1 vs 0); its other rows compare
        recorded values. For a logistic model these are its coefficients (exact: the
        change is the same for every patient); for other models the average change over
        the synthetic reference patients.
        """
        key = (n_reference, seed)
        if key in self._effects:
            return self._effects[key]
        X = self.reference_sample(n_reference, seed)
        importance = self.global_importance(n_reference, seed)
        std = self.standardiser.std

        def change(high: np.ndarray, low: np.ndarray) -> float:
            return float(np.mean(self.log_odds(high) - self.log_odds(low)))

        out: list[dict[str, Any]] = []
        for f, (name, cols) in zip(self.features, self._groups, strict=True):
            rows: list[dict[str, Any]] = []
            flags = self._flags(f, cols)
            recorded = X.copy()
            recorded[:, flags] = 0.0  # compare patients whose value was recorded
            if f.kind == "numeric":
                c = cols[0]
                step = _nice_step(float(std[c]))
                high = recorded.copy()
                high[:, c] += step
                unit = say_unit(f.unit)
                rows.append({"comparison": f"+{step:g}{' ' + unit if unit else ''}",
                             "step": step, "level": None, "reference": None,
                             "log_odds": change(high, recorded)})
            else:
                low = recorded.copy()
                low[:, [c for c in cols if c not in flags]] = 0.0
                levels = f.categories if f.kind == "categorical" else ("0", "1")
                for k, level in enumerate(levels[1:]):
                    high = low.copy()
                    high[:, cols[k] if f.kind == "categorical" else cols[0]] = 1.0
                    rows.append({"comparison": f"{self.say_code(name, level)} vs "
                                               f"{self.say_code(name, levels[0])}",
                                 "step": None, "level": level, "reference": levels[0],
                                 "log_odds": change(high, low)})
            if flags:  # imputed: the value not recorded (the mean filled in) vs recorded
                low = recorded.copy()
                low[:, cols[0]] = self._fill(f, cols)
                high = low.copy()
                high[:, flags] = 1.0
                rows.append({"comparison": "not recorded vs recorded", "step": None,
                             "level": "not recorded", "reference": "recorded",
                             "log_odds": change(high, low)})
            for r in rows:
                r["odds_ratio"] = math.exp(min(r["log_odds"], 700.0))
                r["direction"] = direction(r["log_odds"])
            out.append({"feature": name, "label": self.meaning(name).label, "kind": f.kind,
                        "unit": f.unit, "importance": importance[name], "effects": rows})
        out.sort(key=lambda e: -e["importance"])
        self._effects[key] = out
        return out

    def known_directions(self, effects: list[dict[str, Any]] | None = None, *,
                         z: Mapping[str, float] | None = None) -> dict[str, Any]:
        """The model's effects (``effects``: :meth:`effects`, computed when not given)
        checked against the settled risk factors
        (:func:`fedcare.explain._expected.check_directions`): which inputs point against
        known medicine, which agree, which were not checked and why. ``z``: feature ->
        Wald z of its coefficient, when the model has standard errors (a direction
        against medicine is then flagged only outside chance)."""
        from fedcare.explain._expected import check_directions

        return check_directions(effects if effects is not None else self.effects(),
                                self.codebook,
                                {f.name: f.kind for f in self.features},
                                outcome_label=self.outcome_label, target=self.schema.target,
                                z=z)

    @property
    def effects_method(self) -> str:
        """How :meth:`effects` are computed, in a sentence."""
        if self.kind == "logistic":
            return ("Exact for this logistic model: the change is the same for every "
                    "patient (its coefficient), and the odds ratio is exp(change in "
                    "log-odds).")
        return ("The model is not linear, so the change varies between patients: shown is "
                "the average change in log-odds over synthetic reference patients drawn "
                "from the federated means and SDs.")

    def _flags(self, f: Feature, cols: list[int]) -> list[int]:
        """The missing-value indicator columns of ``f`` (an imputed numeric or binary
        feature is encoded as its value, then ``"<name> missing"``); none for the others."""
        return [] if f.kind == "categorical" else list(cols[1:])

    def _fill(self, f: Feature, cols: list[int]) -> float:
        """The value an imputed feature was given where it was missing (its federated mean)."""
        fill = getattr(f, "impute", None)
        return float(fill) if fill is not None else float(self.standardiser.mean[cols[0]])

    def reference_sample(self, n: int, seed: int = 0) -> np.ndarray:
        """Synthetic encoded rows from the federated means and SDs (see global_importance).

        A missing-value indicator is drawn with its federated rate; where it is 1 the
        feature holds its imputed value, as in training.
        """
        rng = np.random.default_rng(seed)
        mean, std = self.standardiser.mean, self.standardiser.std
        X = np.zeros((n, mean.size))
        for f, (_, cols) in zip(self.features, self._groups, strict=True):
            if f.kind == "numeric":
                c = cols[0]
                X[:, c] = rng.normal(mean[c], std[c], n)
            elif f.kind == "binary":
                c = cols[0]
                X[:, c] = rng.random(n) < np.clip(mean[c], 0, 1)
            else:
                p = np.clip(mean[cols], 0, 1)
                probs = np.concatenate([[max(0.0, 1 - p.sum())], p])
                draws = rng.choice(len(probs), size=n, p=probs / probs.sum())
                X[:, cols] = (draws[:, None] == np.arange(1, len(probs))[None, :])
            for flag in self._flags(f, cols):
                missing = rng.random(n) < np.clip(mean[flag], 0, 1)
                X[:, flag] = missing
                X[missing, cols[0]] = self._fill(f, cols)
        return X
