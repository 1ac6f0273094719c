"""UCUM units for the common clinical quantities, converted with pint.

A feature declares its unit with a UCUM code (``mg/dL``, ``mmol/L``, ``mm[Hg]``,
``[lb_av]``, ``Cel`` ...).  Values that arrive in another unit of the same quantity are
converted to the declared one; a unit fedcare cannot interpret, or one of a different
dimension, is an error naming the feature.

Conversions between mass and amount concentrations (``mg/dL`` <-> ``mmol/L``) need the
analyte's molar mass, so they are allowed only for a known :class:`Quantity`
(cholesterol, glucose, creatinine); HbA1c between NGSP ``%`` and IFCC ``mmol/mol`` uses the
IFCC master equation.  Everything else is pint's dimensional conversion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from fedcare.exceptions import DataError

__all__ = [
    "QUANTITIES",
    "AnalyteUnknown",
    "Quantity",
    "UnitError",
    "convert",
    "default_range",
    "normalise_unit",
    "quantity_for",
]


class UnitError(DataError):
    """A unit fedcare cannot interpret or convert (a :class:`DataError`, exit code 3)."""


class AnalyteUnknown(UnitError):
    """A conversion that depends on the analyte, for a feature whose analyte is unknown.

    Never quarantined record by record: the mapping must declare ``quantity``.
    """


@dataclass(frozen=True)
class Quantity:
    """A clinical quantity: its usual units and what is plausible.

    Parameters
    ----------
    name : str
        Short name (``"cholesterol"``).
    canonical : str
        The UCUM unit fedcare stores it in by default.
    units : tuple of str
        The UCUM units hospitals commonly report it in (``canonical`` first).
    plausible : tuple of float
        Physiologically plausible range in ``canonical`` units (values outside are flagged
        by the quality report and refused by the prediction API).
    molar_mass : float or None
        g/mol, for mass <-> amount concentration.
    loinc : tuple of str
        LOINC codes that measure it.
    aliases : tuple of str
        Column names that usually hold it (lower case).
    omop : tuple of int
        OMOP standard measurement concept ids that measure it.
    """

    name: str
    canonical: str
    units: tuple[str, ...]
    plausible: tuple[float, float]
    molar_mass: float | None = None
    loinc: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    omop: tuple[int, ...] = ()


QUANTITIES: dict[str, Quantity] = {q.name: q for q in (
    Quantity("cholesterol", "mg/dL", ("mg/dL", "mmol/L"), (50.0, 1000.0), 386.65,
             ("2093-3", "14647-2"), ("chol", "cholesterol", "total_cholesterol", "tc"),
             (3027114,)),
    Quantity("glucose", "mg/dL", ("mg/dL", "mmol/L"), (10.0, 1500.0), 180.156,
             ("2345-7", "2339-0", "15074-8", "1558-6", "14749-6", "14771-0"),
             ("glucose", "glu", "fasting_glucose"), (3004501,)),
    Quantity("creatinine", "mg/dL", ("mg/dL", "umol/L"), (0.1, 30.0), 113.12,
             ("2160-0", "14682-9", "38483-4"), ("creatinine", "creat", "scr"), (3016723,)),
    Quantity("hba1c", "%", ("%", "mmol/mol"), (2.0, 25.0), None,
             ("4548-4", "17856-6", "59261-8", "41995-2", "4549-2"),
             ("hba1c", "a1c", "glycated_haemoglobin"), (3004410,)),
    Quantity("weight", "kg", ("kg", "[lb_av]", "g"), (0.3, 500.0), None,
             ("29463-7", "3141-9"), ("weight", "body_weight", "wt"), (3025315,)),
    Quantity("height", "cm", ("cm", "m", "[in_i]"), (20.0, 260.0), None,
             ("8302-2", "3137-7"), ("height", "body_height", "ht"), (3036277,)),
    Quantity("temperature", "Cel", ("Cel", "[degF]"), (25.0, 45.0), None,
             ("8310-5", "8331-1"), ("temperature", "temp", "body_temperature")),
    Quantity("systolic_bp", "mm[Hg]", ("mm[Hg]", "kPa"), (50.0, 300.0), None,
             ("8480-6",), ("trestbps", "sbp", "systolic_bp", "systolic"), (3004249,)),
    Quantity("diastolic_bp", "mm[Hg]", ("mm[Hg]", "kPa"), (20.0, 200.0), None,
             ("8462-4",), ("dbp", "diastolic_bp", "diastolic"), (3012888,)),
    Quantity("age", "a", ("a",), (0.0, 120.0), None, ("30525-0",), ("age", "age_years")),
    Quantity("st_depression", "mm", ("mm",), (-5.0, 10.0), None, (), ("oldpeak",)),
    Quantity("heart_rate", "/min", ("/min",), (20.0, 300.0), None,
             ("8867-4",), ("thalach", "heart_rate", "hr", "pulse"), (3027018,)),
    # A true fraction (haematocrit as % or L/L, a saturation): % <-> 1 <-> mmol/mol is a
    # plain ratio only for these; declare quantity = "fraction" to allow it.
    Quantity("fraction", "%", ("%", "1"), (0.0, 100.0), None),
)}

# UCUM atoms in square brackets (and a few others) -> pint names.
_UCUM_TO_PINT = {
    "[lb_av]": "lb", "[in_i]": "inch", "[ft_i]": "foot", "[oz_av]": "oz", "[degF]": "degF",
    "mm[Hg]": "mmHg", "Cel": "degC", "[iU]": "IU", "a": "year", "mo": "month", "wk": "week",
    "d": "day", "h": "hour", "min": "minute", "s": "second", "%": "percent",
}
_SYNONYMS = {  # spellings seen in hospital exports -> UCUM
    "mg/dl": "mg/dL", "mmol/l": "mmol/L", "umol/l": "umol/L", "µmol/l": "umol/L",
    "µmol/L": "umol/L", "μmol/L": "umol/L", "mmhg": "mm[Hg]", "mm hg": "mm[Hg]",
    "lb": "[lb_av]", "lbs": "[lb_av]", "in": "[in_i]", "inch": "[in_i]", "°c": "Cel",
    "degc": "Cel", "c": "Cel", "°f": "[degF]", "degf": "[degF]", "f": "[degF]",
    "bpm": "/min", "beats/min": "/min", "{beats}/min": "/min", "years": "a", "yr": "a",
    "kpa": "kPa", "kg": "kg", "g": "g", "cm": "cm", "m": "m", "%": "%",
    "mmol/mol": "mmol/mol", "g/l": "g/L", "mg/l": "mg/L",
}


def normalise_unit(unit: str) -> str:
    """The UCUM spelling of a unit string as hospitals write it (``mg/dl`` -> ``mg/dL``)."""
    text = unit.strip()
    return _SYNONYMS.get(text, _SYNONYMS.get(text.lower(), text))


@cache
def _registry() -> Any:
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def _pint_unit(ucum: str) -> Any:
    text = normalise_unit(ucum)
    if text in _UCUM_TO_PINT:
        text = _UCUM_TO_PINT[text]
    else:
        # Translate bracketed atoms and UCUM's leading "/" ("/min" = per minute).
        for code, name in _UCUM_TO_PINT.items():
            if code.startswith("[") or code == "mm[Hg]":
                text = text.replace(code, name)
        if text.startswith("/"):
            text = "1" + text
        text = re.sub(r"(?<![A-Za-z])min\b", "minute", text)
    import pint

    try:
        return _registry().Unit(text)
    except (pint.errors.PintError, AttributeError, ValueError, TypeError, SyntaxError,
            KeyError):
        return None


def quantity_for(name: str | None = None, *, loinc: str | None = None,
                 omop: int | str | None = None) -> Quantity | None:
    """The known quantity a column name, LOINC code or OMOP concept id measures, if any."""
    concept = int(omop) if omop is not None and str(omop).strip().isdigit() else None
    for q in QUANTITIES.values():
        if loinc is not None and loinc in q.loinc:
            return q
        if concept is not None and concept in q.omop:
            return q
        if name is not None and name.lower() in q.aliases:
            return q
    return None


def default_range(name: str, unit: str | None) -> tuple[float, float] | None:
    """The plausible range of a known quantity, in ``unit`` (None when not known)."""
    q = quantity_for(name)
    if q is None or unit is None:
        return None
    try:
        low, high = convert([q.plausible[0], q.plausible[1]], q.canonical, unit, quantity=q,
                            feature=name)
    except UnitError:
        return None
    return (round(float(low), 6), round(float(high), 6))


def _hba1c(values: np.ndarray, source: str, target: str) -> np.ndarray | None:
    # IFCC master equation: NGSP % = 0.09148 * IFCC mmol/mol + 2.152
    if (source, target) == ("mmol/mol", "%"):
        return 0.09148 * values + 2.152
    if (source, target) == ("%", "mmol/mol"):
        return (values - 2.152) / 0.09148
    return None


def convert(values: Any, source: str, target: str, *, quantity: Quantity | None = None,
            feature: str = "value") -> np.ndarray:
    """Convert ``values`` from unit ``source`` to unit ``target`` (UCUM codes).

    Parameters
    ----------
    values : array-like of float
    source, target : str
        UCUM codes (common spellings such as ``mg/dl`` or ``mmHg`` are accepted).
    quantity : Quantity, optional
        Needed for mass <-> amount concentration (its molar mass) and HbA1c.
    feature : str
        Named in error messages.

    Raises
    ------
    UnitError
        A unit that cannot be interpreted, or units of different dimensions (the message
        names the feature and the units, never a value).
    """
    array = np.asarray(values, dtype=np.float64)
    src, dst = normalise_unit(source), normalise_unit(target)
    if src == dst:
        return array.copy()
    if quantity is not None and quantity.name == "hba1c":
        converted = _hba1c(array, src, dst)
        if converted is not None:
            return converted
    src_unit, dst_unit = _pint_unit(src), _pint_unit(dst)
    for code, parsed in ((source, src_unit), (target, dst_unit)):
        if parsed is None:
            raise UnitError(f"feature '{feature}': unit '{code}' is not a UCUM unit fedcare "
                            "knows (e.g. mg/dL, mmol/L, umol/L, mm[Hg], kg, [lb_av], cm, Cel)")
    if (src_unit.dimensionless or dst_unit.dimensionless) and (
            quantity is None or quantity.name != "fraction"):
        # % and mmol/mol are both "ratios" to pint, but HbA1c NGSP % and IFCC mmol/mol are
        # two scales (39 mmol/mol is 5.7 %, not 3.9 %): never a plain-ratio guess.
        what = f"{quantity.name} " if quantity is not None else ""
        raise AnalyteUnknown(
            f"feature '{feature}': converting {what}'{source}' to '{target}' depends on what "
            "is measured (HbA1c in IFCC mmol/mol is not NGSP % divided by 10); fedcare does "
            "not know this feature's analyte: declare it in the mapping, e.g. "
            "quantity = \"hba1c\" under [features." + feature + "] (or quantity = "
            "\"fraction\" for a true ratio)")
    registry = _registry()
    import pint

    try:
        return np.asarray(registry.Quantity(array, src_unit).to(dst_unit).magnitude,
                          dtype=np.float64)
    except pint.errors.DimensionalityError:
        pass
    if quantity is not None and quantity.molar_mass is not None:
        try:
            with registry.context("chemistry", mw=quantity.molar_mass * registry("g/mol")):
                return np.asarray(registry.Quantity(array, src_unit).to(dst_unit).magnitude,
                                  dtype=np.float64)
        except pint.errors.DimensionalityError:
            pass
    if quantity is None and _is_concentration(src_unit) and _is_concentration(dst_unit):
        known = sorted(q.name for q in QUANTITIES.values() if q.molar_mass is not None)
        raise AnalyteUnknown(
            f"feature '{feature}': converting '{source}' to '{target}' needs the analyte's "
            "molar mass, and fedcare does not know what this feature measures: declare it "
            f"in the mapping, e.g. quantity = \"cholesterol\" under [features.{feature}] "
            f"(known: {', '.join(known)})")
    what = f" {quantity.name}" if quantity is not None else ""
    raise UnitError(f"feature '{feature}': cannot convert{what} from '{source}' to '{target}' "
                    "(different kinds of quantity)")


def _is_concentration(unit: Any) -> bool:
    dims = dict(unit.dimensionality)
    return dims.get("[length]") == -3 and set(dims) <= {"[length]", "[mass]", "[substance]"}
