"""A registered model ready to use: validate patients, predict, explain."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fedcare.data._cohort import Feature, Schema, level_of
from fedcare.data._standardise import Standardiser
from fedcare.data._units import convert, quantity_for
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

    def to_dict(self) -> dict[str, Any]:
        """FastAPI-style error entry: location, message, type."""
        return {"loc": ["body", "patients", self.row, self.field], "msg": self.message,
                "type": self.kind}


class PatientInputError(DataError):
    """Patients that fail validation; ``errors`` says which field of which row and why."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"patient {first.row}, field '{first.field}': {first.message}{more}")


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"risk": self.risk, "log_odds": self.log_odds, "base_log_odds": self.base_log_odds,
                "base_risk": _sigmoid(self.base_log_odds), "contributions": self.contributions,
                "method": self.method, "top_factors": self.top_factors}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


#: How UCUM codes read to a clinician.
_SAY_UNIT = {"a": "years", "mm[Hg]": "mmHg", "Cel": "°C", "[degF]": "°F", "[lb_av]": "lb",
             "[in_i]": "in", "/min": "/min"}


def say_unit(unit: str | None) -> str:
    """A UCUM code as people write it (``mm[Hg]`` -> ``mmHg``, ``a`` -> ``years``)."""
    return _SAY_UNIT.get(unit, unit) if unit else ""


def _range_text(f: Feature) -> str:
    assert f.valid_range is not None
    low, high = (f"{v:g}" for v in f.valid_range)
    return f"between {low} and {high}" + (f" {say_unit(f.unit)}" if f.unit else "")


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
    """

    def __init__(self, kind: str, arrays: list[Any], standardiser: dict[str, Any],
                 schema: dict[str, Any]) -> None:
        self.kind = kind
        self.schema = Schema.from_dict(schema)
        self.standardiser = Standardiser(np.asarray(standardiser["mean"]),
                                         np.asarray(standardiser["scale"]))
        params = [np.asarray(a, dtype=np.float64) for a in arrays]
        self.model: Any = (LogisticRegression().set_arrays(params) if kind == "logistic"
                           else make_model(kind).set_arrays(params))
        self._groups = self._column_groups()
        self._shap: Any = None

    @classmethod
    def from_record(cls, record: Any) -> RiskModel:
        """From a :class:`fedcare.registry.ModelRecord`."""
        return cls(record.kind, record.arrays, record.standardiser, record.schema)

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

    # -- input ------------------------------------------------------------------------
    def _value(self, f: Feature, raw: Any, row: int, errors: list[InputError]) -> Any:
        if isinstance(raw, dict) and f.kind == "numeric":
            if set(raw) - {"value", "unit"} or "value" not in raw:
                errors.append(InputError(row, f.name, "expected a number or "
                                         "{\"value\": number, \"unit\": UCUM code}", "type"))
                return None
            unit, raw = raw.get("unit"), raw["value"]
        else:
            unit = None
        if f.kind == "categorical":
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                errors.append(InputError(row, f.name, "expected one of the levels "
                                         + ", ".join(f.categories), "type"))
                return None
            level = level_of(raw)
            if level not in f.categories:
                errors.append(InputError(row, f.name, "must be one of "
                                         + ", ".join(f.categories), "value_error.level"))
                return None
            return level
        if isinstance(raw, bool):
            raw = int(raw)
        if not isinstance(raw, int | float) or not math.isfinite(float(raw)):
            errors.append(InputError(row, f.name, "expected a finite number"
                                     + (f" in {say_unit(f.unit)}" if f.unit else ""), "type"))
            return None
        value = float(raw)
        if f.kind == "binary" and value not in (0.0, 1.0):
            errors.append(InputError(row, f.name, "must be 0 or 1", "value_error.binary"))
            return None
        if unit is not None and f.unit is not None and unit != f.unit:
            try:
                value = float(convert([value], str(unit), f.unit,
                                      quantity=quantity_for(f.name), feature=f.name)[0])
            except DataError:
                errors.append(InputError(row, f.name, f"unit '{unit}' cannot be converted to "
                                         f"{f.unit}", "value_error.unit"))
                return None
        elif unit is not None and f.unit is None:
            errors.append(InputError(row, f.name, "this feature has no unit; send a plain "
                                     "number", "value_error.unit"))
            return None
        if f.valid_range is not None and not (f.valid_range[0] <= value <= f.valid_range[1]):
            errors.append(InputError(row, f.name, f"must be {_range_text(f)}",
                                     "value_error.range"))
            return None
        return value

    def validate(self, patients: list[dict[str, Any]]) -> np.ndarray:
        """Check every field of every patient and encode them.

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
            for extra in sorted(set(patient) - names):
                errors.append(InputError(i, str(extra)[:64], "unknown field; expected "
                                         + ", ".join(sorted(names)), "value_error.extra"))
            for f, (_, cols) in zip(self.features, self._groups, strict=True):
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
            raise PatientInputError(errors)
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

    def explain(self, patients: list[dict[str, Any]], *, top: int = 3) -> list[Explanation]:
        """Per-feature contributions to each patient's log-odds, with the top factors."""
        X = self.validate(patients)
        z = self.log_odds(X)
        base, per_feature, method = contributions(self, X)
        out = []
        for i, patient in enumerate(patients):
            contrib = {name: float(per_feature[i, j]) for j, (name, _) in enumerate(self._groups)}
            out.append(Explanation(
                risk=_sigmoid(float(z[i])), log_odds=float(z[i]), base_log_odds=float(base),
                contributions=contrib, method=method,
                top_factors=self._words(contrib, patient, top)))
        return out

    def _words(self, contrib: dict[str, float], patient: dict[str, Any], top: int) -> list[str]:
        ranked = sorted(contrib.items(), key=lambda kv: -abs(kv[1]))[:top]
        words = []
        for name, value in ranked:
            f = self.schema.feature(name)
            raw = patient.get(name)
            shown = raw.get("value") if isinstance(raw, dict) else raw
            unit = say_unit((raw.get("unit") if isinstance(raw, dict) else None) or f.unit)
            if abs(value) < 0.05:
                effect = "barely changes the risk"
            else:
                effect = "raises the risk" if value > 0 else "lowers the risk"
            words.append(f"{name} = {level_of(shown) if f.kind != 'numeric' else f'{shown:g}'}"
                         f"{' ' + unit if unit and f.kind == 'numeric' else ''} {effect} "
                         f"({value:+.2f} log-odds vs. the study's average patient)")
        return words

    def global_importance(self, n_reference: int = 200, seed: int = 0) -> dict[str, float]:
        """Mean absolute contribution of each feature over a synthetic reference sample.

        No patient rows exist where the model is served, so the reference patients are
        drawn from the federated moments (independent features: normal for numeric
        columns, Bernoulli/multinomial for binary and categorical ones). Sorted, largest
        first.
        """
        X = self.reference_sample(n_reference, seed)
        _, per_feature, _ = contributions(self, X)
        means = np.abs(per_feature).mean(axis=0)
        ranked = sorted(zip([g[0] for g in self._groups], means, strict=True),
                        key=lambda kv: -kv[1])
        return {name: float(v) for name, v in ranked}

    def reference_sample(self, n: int, seed: int = 0) -> np.ndarray:
        """Synthetic encoded rows from the federated means and SDs (see global_importance)."""
        rng = np.random.default_rng(seed)
        mean, std = self.standardiser.mean, self.standardiser.std
        X = np.empty((n, mean.size))
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
        return X
