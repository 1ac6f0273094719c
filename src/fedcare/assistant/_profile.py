"""A person's profile: the assistant's one input, validated once at the boundary.

A profile is a JSON object whose fields are named as in :data:`FIELDS`.  A number is in
the field's conventional US unit (mg/dL, mmHg, cm, kg) unless given as
``{"value": 4.65, "unit": "mmol/L"}`` (UCUM), which fedcare's unit code converts.  Every
problem is reported at once, naming the field and what is accepted, never the value.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, fields, replace
from typing import Any

from fedcare.data._units import QUANTITIES, Quantity, UnitError, convert
from fedcare.exceptions import DataError

__all__ = ["FIELDS", "FieldSpec", "Profile", "ProfileError", "check_person_id",
           "parse_profile"]


@dataclass(frozen=True)
class FieldSpec:
    """One profile field: its kind, unit, accepted range and what it is, in both languages."""

    name: str
    kind: str  # "number" | "bool" | "choice" | "date"
    en: str
    zh: str
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    quantity: str | None = None  # a fedcare.data._units quantity, for unit conversion
    units: tuple[str, ...] = ()  # other accepted UCUM units (beyond the quantity's)


_NUMBERS = (
    FieldSpec("age", "number", "age", "年龄", "a", 18, 110, quantity="age"),
    FieldSpec("systolic_bp", "number", "systolic blood pressure", "收缩压", "mm[Hg]", 60, 300,
              quantity="systolic_bp"),
    FieldSpec("diastolic_bp", "number", "diastolic blood pressure", "舒张压", "mm[Hg]", 30,
              200, quantity="diastolic_bp"),
    FieldSpec("total_cholesterol", "number", "total cholesterol", "总胆固醇", "mg/dL", 50,
              1000, quantity="cholesterol"),
    FieldSpec("hdl_cholesterol", "number", "HDL cholesterol", "高密度脂蛋白胆固醇", "mg/dL", 5,
              250, quantity="cholesterol"),
    FieldSpec("bmi", "number", "body-mass index", "体重指数", "kg/m2", 10, 90),
    FieldSpec("height_cm", "number", "height", "身高", "cm", 100, 250, quantity="height"),
    FieldSpec("weight_kg", "number", "weight", "体重", "kg", 20, 350, quantity="weight"),
    FieldSpec("waist_cm", "number", "waist circumference", "腰围", "cm", 40, 200,
              units=("cm", "[in_i]", "m")),
    FieldSpec("egfr", "number", "eGFR", "估算肾小球滤过率", "mL/min/{1.73_m2}", 1, 200),
    FieldSpec("hba1c", "number", "HbA1c", "糖化血红蛋白", "%", 3, 20, quantity="hba1c"),
    FieldSpec("fasting_glucose", "number", "fasting glucose", "空腹血糖", "mg/dL", 20, 800,
              quantity="glucose"),
    FieldSpec("salt_g_per_day", "number", "salt eaten a day", "每日食盐摄入量", "g", 0, 60),
    FieldSpec("oil_g_per_day", "number", "cooking oil a day", "每日烹调油", "g", 0, 300),
    FieldSpec("vegetables_g_per_day", "number", "vegetables a day", "每日蔬菜", "g", 0, 5000),
    FieldSpec("fruit_g_per_day", "number", "fruit a day", "每日水果", "g", 0, 5000),
    FieldSpec("activity_min_per_week", "number", "moderate activity a week",
              "每周中等强度活动", "min", 0, 5000),
)
_BOOLS = (
    FieldSpec("bp_treated", "bool", "currently treated for high blood pressure",
              "正在接受降压治疗"),
    FieldSpec("smoker", "bool", "current smoker", "目前吸烟"),
    FieldSpec("diabetes", "bool", "diabetes", "糖尿病"),
    FieldSpec("statin", "bool", "takes a statin", "服用他汀"),
    FieldSpec("physically_active", "bool", "at least 30 min of activity every day",
              "每天至少活动 30 分钟"),
    FieldSpec("daily_fruit_veg", "bool", "eats vegetables or fruit every day",
              "每天吃蔬菜或水果"),
    FieldSpec("bp_medication", "bool", "has ever taken medicine for high blood pressure",
              "曾服用降压药"),
    FieldSpec("high_glucose_history", "bool", "high blood glucose found before",
              "曾发现血糖升高"),
    FieldSpec("cvd_history", "bool", "has had a heart attack, stroke or other "
              "cardiovascular disease", "既往有心肌梗死、脑卒中等心血管病"),
)
_CHOICES = (
    FieldSpec("sex", "choice", "sex", "性别", choices=("female", "male")),
    FieldSpec("race", "choice", "race (only for the Pooled Cohort Equations)", "种族",
              choices=("white", "african_american", "other")),
    FieldSpec("family_history_diabetes", "choice", "diabetes in the family", "糖尿病家族史",
              choices=("none", "second_degree", "first_degree")),
)

#: Every field a profile may hold, by name.
FIELDS: dict[str, FieldSpec] = {f.name: f for f in (*_NUMBERS, *_BOOLS, *_CHOICES)}

_TRUE = {"true", "yes", "y", "1", "是"}
_FALSE = {"false", "no", "n", "0", "否"}
_SEX = {"f": "female", "woman": "female", "女": "female", "女性": "female", "m": "male",
        "man": "male", "男": "male", "男性": "male"}


class ProfileError(DataError):
    """A profile that fails validation (exit code 3, HTTP 422); ``errors`` names each field
    and what is accepted, never the value."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"profile field '{errors[0]['field']}': {errors[0]['msg']}{more}")


@dataclass(frozen=True)
class Profile:
    """A validated profile, every number in the field's conventional unit (None: not given).

    ``notes`` records what was derived (BMI from height and weight) and converted.
    """

    age: float | None = None
    sex: str | None = None
    race: str | None = None
    systolic_bp: float | None = None
    diastolic_bp: float | None = None
    bp_treated: bool | None = None
    total_cholesterol: float | None = None
    hdl_cholesterol: float | None = None
    smoker: bool | None = None
    diabetes: bool | None = None
    bmi: float | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    waist_cm: float | None = None
    egfr: float | None = None
    statin: bool | None = None
    hba1c: float | None = None
    fasting_glucose: float | None = None
    physically_active: bool | None = None
    daily_fruit_veg: bool | None = None
    bp_medication: bool | None = None
    high_glucose_history: bool | None = None
    cvd_history: bool | None = None
    family_history_diabetes: str | None = None
    salt_g_per_day: float | None = None
    oil_g_per_day: float | None = None
    vegetables_g_per_day: float | None = None
    fruit_g_per_day: float | None = None
    activity_min_per_week: float | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    def given(self) -> dict[str, Any]:
        """The fields that hold a value (notes left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "notes" and getattr(self, f.name) is not None}

    def with_(self, **changes: Any) -> Profile:
        """A copy with some fields changed (what-if)."""
        return replace(self, **changes)


def _spec_range(spec: FieldSpec) -> str:
    unit = {"a": "years", "mm[Hg]": "mmHg", "kg/m2": "kg/m²", "mL/min/{1.73_m2}":
            "mL/min/1.73m²"}.get(spec.unit or "", spec.unit or "")
    return f"{spec.low:g}-{spec.high:g} {unit}".rstrip()


def _number(spec: FieldSpec, raw: Any, errors: list[dict[str, str]],
            notes: list[str]) -> float | None:
    expected = f"a number in {_spec_range(spec)}"
    unit_from = None
    if isinstance(raw, dict):
        if set(raw) != {"value", "unit"}:
            errors.append({"field": spec.name, "msg": 'expected a number or {"value": x, '
                           '"unit": "UCUM code"}'})
            return None
        raw, unit_from = raw["value"], raw["unit"]
        if not isinstance(unit_from, str) or not unit_from.strip() or len(unit_from) > 32:
            errors.append({"field": spec.name, "msg": "the unit must be a UCUM code such "
                           f"as {spec.unit}"})
            return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        errors.append({"field": spec.name, "msg": f"expected {expected}"})
        return None
    value = float(raw)
    if not math.isfinite(value):
        errors.append({"field": spec.name, "msg": f"expected {expected}"})
        return None
    if unit_from is not None and spec.unit is not None:
        quantity: Quantity | None = QUANTITIES.get(spec.quantity) if spec.quantity else None
        try:
            with warnings.catch_warnings():  # pint's own arithmetic on odd units
                warnings.simplefilter("ignore", RuntimeWarning)
                value = float(convert([value], unit_from, spec.unit, quantity=quantity,
                                      feature=spec.name)[0])
        except UnitError:
            accepted = quantity.units if quantity is not None else (spec.units or (spec.unit,))
            errors.append({"field": spec.name, "msg": f"the unit given cannot be converted "
                           f"to {spec.unit}; accepted units: {', '.join(accepted)}"})
            return None
        notes.append(f"{spec.name} converted from {unit_from} to {spec.unit}")
    assert spec.low is not None and spec.high is not None
    if not spec.low <= value <= spec.high:
        hint = ("; after converting from the unit given: check the unit"
                if unit_from is not None else "")
        errors.append({"field": spec.name, "msg": f"outside the accepted range: expected "
                       f"{expected}{hint}"})
        return None
    return value


def _bool(spec: FieldSpec, raw: Any, errors: list[dict[str, str]]) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    errors.append({"field": spec.name, "msg": "expected true or false"})
    return None


def _choice(spec: FieldSpec, raw: Any, errors: list[dict[str, str]]) -> str | None:
    if isinstance(raw, str):
        text = raw.strip().lower()
        if spec.name == "sex":
            text = _SEX.get(text, text)
        if text in spec.choices:
            return text
    also = " (or 女/男)" if spec.name == "sex" else ""
    errors.append({"field": spec.name, "msg": f"expected one of {', '.join(spec.choices)}"
                   + also})
    return None


def parse_profile(data: Any) -> Profile:
    """Validate a profile (a JSON object) into a :class:`Profile`.

    Raises
    ------
    ProfileError
        Every field that fails, with what is accepted (never the value).
    """
    if not isinstance(data, dict):
        raise ProfileError([{"field": "(profile)", "msg": "expected a JSON object of "
                             "fields such as age, sex, systolic_bp"}])
    errors: list[dict[str, str]] = []
    notes: list[str] = []
    values: dict[str, Any] = {}
    for name, raw in data.items():
        spec = FIELDS.get(name) if isinstance(name, str) else None
        if spec is None:
            shown = name[:40] if isinstance(name, str) else "?"
            errors.append({"field": shown, "msg": "unknown field; known fields: "
                           + ", ".join(sorted(FIELDS))})
            continue
        if raw is None:
            continue
        if spec.kind == "number":
            values[name] = _number(spec, raw, errors, notes)
        elif spec.kind == "bool":
            values[name] = _bool(spec, raw, errors)
        else:
            values[name] = _choice(spec, raw, errors)
    if errors:
        raise ProfileError(errors)
    values = {k: v for k, v in values.items() if v is not None}
    if "systolic_bp" in values and "diastolic_bp" in values and (
            values["diastolic_bp"] >= values["systolic_bp"]):
        raise ProfileError([{"field": "diastolic_bp", "msg": "must be lower than "
                             "systolic_bp; check whether the two were swapped"}])
    if "bmi" in values and "height_cm" in values and "weight_kg" in values:
        derived = values["weight_kg"] / (values["height_cm"] / 100) ** 2
        if abs(derived - values["bmi"]) > 0.1 * derived:
            raise ProfileError([{"field": "bmi", "msg": "does not match height_cm and "
                                 "weight_kg (more than 10 % apart); give bmi or height and "
                                 "weight, or correct one of them"}])
    if "bmi" not in values and "height_cm" in values and "weight_kg" in values:
        bmi = values["weight_kg"] / (values["height_cm"] / 100) ** 2
        if not 10 <= bmi <= 90:
            raise ProfileError([{"field": "height_cm", "msg": "height and weight give a "
                                 "body-mass index outside 10-90 kg/m²; check both"}])
        values["bmi"] = bmi
        notes.append("bmi computed from height_cm and weight_kg")
    if values.get("bp_treated") is True and "bp_medication" not in values:
        values["bp_medication"] = True  # treated now implies has taken BP medicine
        notes.append("bp_medication taken as true: bp_treated is true")
    if ("total_cholesterol" in values and "hdl_cholesterol" in values
            and values["hdl_cholesterol"] >= values["total_cholesterol"]):
        raise ProfileError([{"field": "hdl_cholesterol", "msg": "must be lower than "
                             "total_cholesterol (HDL is part of the total)"}])
    return Profile(**values, notes=tuple(notes))


#: A pseudonymous person ID: letters, digits, "." "_" "-", 1-64 characters.
PERSON_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"


def check_person_id(person_id: str) -> None:
    """Refuse a person ID that is not a pseudonym: wrong characters or length, or one that
    looks like a resident ID, a phone number or a bare record number (a DataError that
    never repeats the ID)."""
    import re

    if not re.fullmatch(PERSON_ID_PATTERN, person_id):
        raise DataError("person ID: expected 1-64 letters, digits, '.', '_' or '-'")
    if re.fullmatch(r"[\d.\-_]+|\d{17}[Xx]", person_id):
        raise DataError("person ID: digits only, like a resident ID, phone number or "
                        "record number; use a pseudonymous ID with letters (e.g. hm-000123)")
