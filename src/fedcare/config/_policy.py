"""What a site allows (the tasks it accepts, the privacy it insists on), its units and
its missing-value codes: the ``[policy]``, ``[units]`` and ``[missing]`` tables of its
``site.toml``."""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from fedcare.config._study import (
    MODELS,
    STRATEGIES,
    FrozenSettings,
    InvalidSettings,
    StudyConfig,
    describe_errors,
    expectations,
    read_toml,
    show,
)
from fedcare.exceptions import ConfigError

__all__ = ["POLICY_DEFAULT", "SitePolicy", "parse_policy_assignment", "read_site_missing",
           "read_site_units", "update_policy"]


def read_site_units(path: str | Path) -> dict[str, str]:
    """The ``[units]`` table of a site's config file: feature -> the unit the site records.

    E.g. ``[units]`` with ``chol = "mmol/L"``: this site's cholesterol is in mmol/L; its
    values are converted to the study's unit before the quality check and training.
    A missing table means the site uses the study's units.
    """
    table: Any = read_toml(Path(path), "site config").get("units", {})
    if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in table.items()):
        raise ConfigError(f"{path}: [units] must map feature names to unit codes, e.g. "
                          'chol = "mmol/L"')
    return {k: v.strip() for k, v in table.items()}


def read_site_missing(path: str | Path) -> dict[str, list[float]]:
    """The ``[missing]`` table of a site's config file: column -> its missing-value codes.

    E.g. ``[missing]`` with ``chol = [0.0]``: at this site a cholesterol of 0 means "not
    recorded"; the site recodes such values to missing before the quality check and
    training (on top of the study's ``missing_codes``). A missing table means no codes.

    Parameters
    ----------
    path : str or Path
        The site's ``site.toml``.

    Returns
    -------
    dict of str to list of float
        Column -> codes (a single number in the file becomes a one-element list).

    Raises
    ------
    ConfigError
        The file is missing or not TOML, or the table maps a column to something other
        than a finite number or a non-empty list of them (the message names the file
        and the key).
    """
    table: Any = read_toml(Path(path), "site config").get("missing", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: missing: expected a table ([missing]) mapping columns "
                          f"to missing-value codes, e.g. chol = [0], got {show(table)}")
    out: dict[str, list[float]] = {}
    for column, value in table.items():
        codes = value if isinstance(value, list) else [value]
        if not codes or not all(isinstance(c, int | float) and not isinstance(c, bool)
                                and math.isfinite(c) for c in codes):
            raise ConfigError(f"{path}: missing.{column}: expected a number or a list of "
                              f"numbers (the codes meaning 'not recorded'), e.g. {column} = "
                              f"[0], got {show(value)}")
        out[column] = [float(c) for c in codes]
    return out


POLICY_DEFAULT = ("none", "default")
"""``--set KEY=none`` (or ``=default``) removes a policy setting: its default applies
(no epsilon limit, every model and strategy, ``min_cell``/``min_cohort`` 1, no secure
aggregation required). ``all`` means the same for ``models`` and ``strategies``."""

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class SitePolicy(FrozenSettings):
    """A site's rules, checked against every study before it does anything (frozen).

    Parameters
    ----------
    models : list of str
        Model types the site trains (default: all).
    strategies : list of str
        Training strategies it takes part in (default: all).
    max_epsilon : float or None
        If set (> 0), the site only trains with record-level DP at epsilon <= this.
    min_cell : int
        Smallest small-cell k it accepts (the study's ``min_cell`` must be >= this).
    min_cohort : int
        The site takes part only if at least this many of its patients are usable.
    require_secure_aggregation : bool
        The site only trains when its updates are summed with SecAgg+.
    approval : {"auto", "manual"}
        ``auto``: a study that meets the rules above runs (and the site's approval log
        says it was approved by its policy). ``manual``: the site answers nothing until
        its steward approves the study after reading its manifest (``fedcare site
        approvals``, ``fedcare site approve|refuse``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    models: list[str] = Field(default_factory=lambda: list(MODELS))
    strategies: list[str] = Field(default_factory=lambda: list(STRATEGIES))
    max_epsilon: float | None = Field(None, gt=0)
    min_cell: int = Field(1, ge=1)
    min_cohort: int = Field(1, ge=1)
    require_secure_aggregation: bool = False
    approval: Literal["auto", "manual"] = "auto"

    _site_dir: str = PrivateAttr("")
    """The folder of the site.toml read (named in the fixes a refusal suggests)."""

    def __init__(self, **settings: Any) -> None:
        try:
            super().__init__(**settings)
        except ValidationError as exc:
            raise InvalidSettings(exc, _EXPECTED, what="policy setting") from None

    @field_validator("models", "strategies")
    @classmethod
    def _known(cls, value: list[str], info: ValidationInfo) -> list[str]:
        allowed = MODELS if info.field_name == "models" else STRATEGIES
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise ValueError(f"must list some of {list(allowed)}, got {show(unknown)}")
        return value

    @classmethod
    def from_toml(cls, path: str | Path) -> SitePolicy:
        """Read the ``[policy]`` table of a site's config file (missing table: allow all)."""
        table: Any = read_toml(Path(path), "site config").get("policy", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: policy: expected a table of settings ([policy]), "
                              f"got {show(table)}")
        unknown = sorted(set(table) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"{path}: unknown policy setting(s) {unknown}; known: "
                              f"{sorted(cls.model_fields)}")
        policy = cls.from_table(table, source=str(path))
        folder = Path(path).resolve().parent.name
        private = policy.__pydantic_private__  # frozen: set the private attribute here
        if private is not None:
            private["_site_dir"] = f"{folder}/" if folder else ""
        return policy

    @classmethod
    def from_table(cls, table: dict[str, Any], source: str = "") -> SitePolicy:
        """Validate a ``[policy]`` table; errors name ``policy.KEY`` (and ``source``)."""
        try:
            return cls(**table)
        except InvalidSettings as exc:
            where = {name: f"policy.{name}" for name in cls.model_fields}
            message = describe_errors(exc.validation_error, _EXPECTED, where,
                                      what="policy setting")
            raise ConfigError(f"{source}: {message}" if source else message) from None

    def _change(self, setting: str) -> str:
        """The command that changes this site's policy (the fix a refusal offers)."""
        return (f"or change the site policy: fedcare site policy "
                f"{self._site_dir or '<site folder>'} --set {setting}")

    def violations(self, study: StudyConfig, usable_rows: int | None = None) -> list[str]:
        """Why this site refuses ``study`` (empty list: it accepts).

        Each reason names the rule and how to go on: the study setting that satisfies it
        or the ``fedcare site policy`` command that changes it. A rule the study's
        strategy or model can never meet says so (e.g. a site that insists on
        record-level DP refuses every Newton study).
        """
        out = []
        if study.model not in self.models:
            use = f"use model = '{self.models[0]}', " if self.models else ""
            out.append(f"model '{study.model}' is not allowed (allowed: {self.models}); {use}"
                       + self._change("models=" + ",".join([*self.models, study.model])))
        if study.strategy not in self.strategies:
            use = f"use strategy = '{self.strategies[0]}', " if self.strategies else ""
            out.append(f"strategy '{study.strategy}' is not allowed (allowed: "
                       f"{self.strategies}); {use}"
                       + self._change("strategies=" + ",".join([*self.strategies,
                                                                study.strategy])))
        if self.max_epsilon is not None:
            limit = f"{self.max_epsilon:g}"
            blocker = ("strategy 'newton'" if study.strategy == "newton" else
                       f"model '{study.model}'" if study.model != "logistic" else "")
            if blocker:  # no study with this strategy/model can ever meet the rule
                use = " and ".join(
                    [*(["strategy = 'fedavg'"] if study.strategy == "newton" else []),
                     *(["model = 'logistic'"] if study.model != "logistic" else [])])
                out.append(f"its policy requires record-level DP (max_epsilon = {limit}), "
                           f"which {blocker} cannot use; use {use} with dp_level = 'record' "
                           f"and dp_epsilon <= {limit}, " + self._change("max_epsilon=none"))
            elif not (study.dp_epsilon and study.dp_level == "record"
                      and study.dp_epsilon <= self.max_epsilon):
                got = ("no DP" if not study.dp_epsilon else "client-level DP"
                       if study.dp_level != "record" else f"epsilon {study.dp_epsilon:g}")
                out.append(f"record-level DP with epsilon <= {self.max_epsilon} is required "
                           f"(study: {got}); set dp_epsilon <= {limit} with dp_level = "
                           f"'record', " + self._change("max_epsilon=none"))
        if study.min_cell < self.min_cell:
            out.append(f"small-cell k {study.min_cell} is below the site's minimum "
                       f"{self.min_cell}; set min_cell = {self.min_cell} in the study, "
                       + self._change(f"min_cell={study.min_cell}"))
        if self.require_secure_aggregation and not study.secure_aggregation:
            out.append("secure aggregation is required; set secure_aggregation = true in "
                       "the study (at least 3 sites), "
                       + self._change("require_secure_aggregation=false"))
        if usable_rows is not None and usable_rows < self.min_cohort:
            out.append(f"fewer usable patients than the site's minimum cohort "
                       f"{self.min_cohort}")
        return out


def _parse_value(key: str, text: str) -> Any:
    """A ``--set`` value as the policy setting's type; None: back to the default."""
    value = text.strip()
    if value.lower() in POLICY_DEFAULT or (key in ("models", "strategies")
                                           and value.lower() == "all"):
        return None
    expected = _EXPECTED[key]
    annotation = SitePolicy.model_fields[key].annotation
    if key in ("models", "strategies"):
        return [v.strip() for v in value.split(",") if v.strip()]
    if key == "approval":
        if value.lower() in ("auto", "manual"):
            return value.lower()
    elif annotation is bool:
        if value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
    elif annotation is int:
        try:
            return int(value)
        except ValueError:
            pass
    else:  # float or None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
        expected += " or none (no limit)"
    raise ConfigError(f"--set {key}: expected {expected}, got {show(value)}")


def parse_policy_assignment(spec: str) -> tuple[str, Any]:
    """One ``KEY=VALUE`` of ``fedcare site policy --set`` as ``(key, typed value)``.

    Parameters
    ----------
    spec : str
        E.g. ``max_epsilon=3``, ``models=logistic,mlp``, ``max_epsilon=none``.

    Returns
    -------
    tuple
        The policy setting and its value (``None``: remove the setting, its default
        applies; see :data:`POLICY_DEFAULT`).

    Raises
    ------
    ConfigError
        Not ``KEY=VALUE``, an unknown key (with the closest known one), or a value of
        the wrong type; one line naming the key and what was expected.
    """
    key, sep, value = spec.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. max_epsilon=none), got {show(spec)}")
    if key not in SitePolicy.model_fields:
        close = difflib.get_close_matches(key, list(SitePolicy.model_fields), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"--set {key}: unknown policy setting; {hint}known: "
                          f"{', '.join(SitePolicy.model_fields)}")
    return key, _parse_value(key, value)


def update_policy(table: dict[str, Any], assignments: list[str], source: str = ""
                  ) -> tuple[dict[str, Any], list[tuple[str, Any, Any]]]:
    """A ``[policy]`` table with ``assignments`` applied, validated as a whole.

    Parameters
    ----------
    table : dict
        The current ``[policy]`` table (not modified).
    assignments : list of str
        ``KEY=VALUE`` each (:func:`parse_policy_assignment`); later ones win.
    source : str
        The file, for error messages.

    Returns
    -------
    new_table : dict
        The table to write (settings set to none/default removed).
    changes : list of tuple
        ``(key, old, new)`` per setting whose value changed (None: unset).

    Raises
    ------
    ConfigError
        A malformed assignment, or a new value the policy model refuses (the message
        names ``policy.KEY``, what was expected and what was given).
    """
    new = dict(table)
    for spec in assignments:
        key, value = parse_policy_assignment(spec)
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    SitePolicy.from_table(new, source=source)  # the whole table, as a site will read it
    changes = [(key, table.get(key), new.get(key))
               for key in SitePolicy.model_fields if table.get(key) != new.get(key)]
    return new, changes


_EXPECTED = expectations(SitePolicy)
