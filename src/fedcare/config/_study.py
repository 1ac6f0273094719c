"""A study's settings: a frozen pydantic model read from TOML or Flower's run config.

This is fedcare's bottom layer: it imports nothing of fedcare but :mod:`fedcare.exceptions`
(no Flower, typer, FastAPI or pandas), so every other package can read a study's settings.
Every invalid value is a :class:`~fedcare.exceptions.ConfigError` whose one-line message
names the setting (and the file), what was expected and what was received.
"""

from __future__ import annotations

import difflib
import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fedcare.exceptions import ConfigError

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_MIN_CELL",
    "DP_LEVELS",
    "ENGINES",
    "MISSING",
    "MODELS",
    "NORM_ACTIONS",
    "PERSONALISE",
    "QUALITY_CHECKS",
    "SECTIONS",
    "STANDARDISE",
    "STRATEGIES",
    "StudyConfig",
    "read_toml",
]

STRATEGIES = ("newton", "fedavg", "fedprox", "fedadam")
ENGINES = ("inprocess", "simulation")
"""Where an embedded study's Flower apps run (``fedcare.study.run_study(engine=...)``)."""
DEFAULT_MIN_CELL = 5
"""Small-cell k: no released count may describe 1..k-1 patients."""
AGGREGATIONS = ("mean", "median", "trimmed-mean", "krum", "multikrum")
NORM_ACTIONS = ("reject", "clip")
DP_LEVELS = ("record", "client")
MODELS = ("logistic", "mlp", "cnn")
STANDARDISE = ("federated", "local", "none")
PERSONALISE = ("auto", "intercept", "finetune", "none")
QUALITY_CHECKS = ("refuse", "warn", "off")
MISSING = ("impute", "complete-case", "drop-feature")
"""How rows with a missing numeric value are used (``[data] missing``)."""

#: The tables a study file may group its settings in (section -> its settings).
SECTIONS: dict[str, tuple[str, ...]] = {
    "data": ("data", "data_dir", "site_column", "target", "features", "categorical",
             "numeric", "positive", "missing_codes", "missing", "images", "file_column",
             "image_size", "modality", "window"),
    "split": ("test_size", "split_seed", "min_site_rows"),
    "training": ("model", "C", "strategy", "rounds", "tol", "local_steps", "lr", "batch_size",
                 "prox_mu", "server_lr", "standardise", "personalise", "seed"),
    "privacy": ("min_cell", "aggregation", "trim_fraction", "expected_malicious",
                "norm_bound", "norm_action", "audit_dir", "secure_aggregation", "dp_epsilon",
                "dp_delta", "dp_max_grad_norm", "dp_level"),
    "fault_tolerance": ("min_sites_per_round", "round_timeout", "checkpoint_dir",
                        "resume_from"),
    "quality": ("quality_check",),
}
_SECTION_OF = {key: section for section, keys in SECTIONS.items() for key in keys}

_CHOICES: dict[str, tuple[str, ...]] = {
    "strategy": STRATEGIES, "model": MODELS, "standardise": STANDARDISE,
    "personalise": PERSONALISE, "aggregation": AGGREGATIONS, "norm_action": NORM_ACTIONS,
    "dp_level": DP_LEVELS, "quality_check": QUALITY_CHECKS, "missing": MISSING,
}
_LISTS = ("features", "categorical", "numeric")
_MAX_SHOWN = 40  # characters of a received value quoted in an error
_MAX_ERRORS = 8


def parse_window(value: str) -> tuple[float, float] | str:
    """``"auto"``, ``"percentile"`` or ``"low,high"`` (numbers, low < high) as
    :func:`fedcare.imaging.load_slice` takes it."""
    text = str(value).strip().lower()
    if text in ("auto", "percentile"):
        return text
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"must be 'auto', 'percentile' or 'low,high' (two numbers), got "
                         f"{show(value)}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"'low,high' needs finite numbers with low < high, got {show(value)}")
    return low, high


def window_text(window: str) -> str:
    """How an image model's ``window`` setting maps values to [0, 1], in words."""
    if window in ("auto", None):
        return "CT: -1000 to 400 HU; other modalities: each slice's 0.5th-99.5th percentile"
    if window == "percentile":
        return "each slice's 0.5th-99.5th percentile"
    return f"{window.replace(',', ' to ')} (after the rescale slope and intercept)"


def parse_missing_codes(value: Any) -> Any:
    """Missing-value codes as ``{column: [number, ...]}``, from a TOML table, the CLI form
    ``"chol=0, trestbps=0"`` (``;`` or ``,`` between columns, ``|`` between codes) or
    the JSON of the run config. Anything else is returned for pydantic to reject."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError(f"expected column=number pairs, got {show(value)}") from None
        else:
            out: dict[str, list[float]] = {}
            for part in (p.strip() for p in text.replace(";", ",").split(",")):
                if not part:
                    continue
                name, sep, codes = part.partition("=")
                try:
                    numbers = [float(c) for c in codes.split("|")]
                except ValueError:
                    numbers = []
                if not sep or not name.strip() or not numbers or not all(
                        math.isfinite(n) for n in numbers):
                    raise ValueError(f"expected column=number pairs such as 'chol=0', got "
                                     f"{show(part)}")
                out.setdefault(name.strip(), []).extend(numbers)
            return out
    if isinstance(value, dict):
        return {k: [float(c) for c in (v if isinstance(v, list) else [v])]
                if all(isinstance(c, int | float) and not isinstance(c, bool)
                       for c in (v if isinstance(v, list) else [v])) else v
                for k, v in value.items()}
    return value


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or malformed file is a :class:`ConfigError`."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; expected a {what}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


# -- error messages ---------------------------------------------------------------------
def show(value: Any) -> str:
    """A received value as quoted in an error: short, never a whole table or long text."""
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN - 3] + "..."


def expectations(model: type[BaseModel]) -> dict[str, str]:
    """Per field of ``model``, what a valid value is, from its type and constraints."""
    kinds = {bool: "true or false", int: "an integer", float: "a number", str: "text"}
    out: dict[str, str] = {}
    for name, info in model.model_fields.items():
        kind = kinds.get(info.annotation, "") if isinstance(info.annotation, type) else ""
        if name in _LISTS:
            kind = "a list of column names or a comma-separated string"
        elif info.annotation == (float | None):
            kind = "a number"
        elif not kind:
            kind = "a list of text" if "list" in str(info.annotation) else "a value"
        bounds = {type(m): getattr(m, field) for m in info.metadata
                  for field in ("ge", "gt", "le", "lt") if hasattr(m, field)}
        low = (f"[{bounds[Ge]:g}" if Ge in bounds else f"({bounds[Gt]:g}" if Gt in bounds
               else "")
        high = (f"{bounds[Le]:g}]" if Le in bounds else f"{bounds[Lt]:g})" if Lt in bounds
                else "")
        if low and high:
            kind += f" within {low}, {high}"
        elif low:
            kind += f" {'>=' if low[0] == '[' else '>'} {low[1:]}"
        elif high:
            kind += f" {'<=' if high[-1] == ']' else '<'} {high[:-1]}"
        out[name] = kind
    return out


_TYPE_ERRORS = frozenset({
    "bool_type", "int_type", "float_type", "string_type", "list_type", "finite_number",
    "greater_than", "greater_than_equal", "less_than", "less_than_equal", "int_from_float",
    "bool_parsing", "int_parsing", "float_parsing", "string_too_short",
})


class InvalidSettings(ConfigError):
    """A :class:`ConfigError` from validation; keeps pydantic's error to re-describe it."""

    def __init__(self, exc: ValidationError, expected: Mapping[str, str],
                 what: str = "setting") -> None:
        super().__init__(describe_errors(exc, expected, what=what))
        self.validation_error = exc


def describe_errors(exc: ValidationError, expected: Mapping[str, str],
                    where: Mapping[str, str] | None = None, what: str = "setting") -> str:
    """One line for a pydantic error: ``name: expected X, got Y`` per problem, joined by ";".

    ``where`` maps a field to the key path it was read from (``privacy.dp_epsilon``).
    """
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        name = loc[0] if loc else ""
        path = ".".join([(where or {}).get(name, name), *loc[1:]]) if loc else ""
        kind = error["type"]
        if kind == "extra_forbidden":
            close = difflib.get_close_matches(name, list(expected), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            lines.append(f"{path}: unknown {what}{hint}")
        elif kind in _TYPE_ERRORS and name in expected:
            wanted = expected[name] if len(loc) == 1 else "text"
            lines.append(f"{path}: expected {wanted}, got {show(error.get('input'))}")
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            sep = " " if message.startswith("must ") else ": "
            lines.append(f"{path}{sep}{message}" if path else message)
    shown = "; ".join(lines[:_MAX_ERRORS])
    return shown + (f"; and {len(lines) - _MAX_ERRORS} more" if len(lines) > _MAX_ERRORS
                    else "")


# -- the settings -----------------------------------------------------------------------
class FrozenSettings(BaseModel):
    """Settings that cannot change once validated: assigning is a :class:`ConfigError`."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise ConfigError(f"{type(self).__name__} is frozen: {name} cannot be set (make a "
                          "changed copy instead)")

    def __delattr__(self, name: str) -> None:
        raise ConfigError(f"{type(self).__name__} is frozen: {name} cannot be deleted")


class StudyConfig(FrozenSettings):
    """Everything that defines a federated study (frozen: change it with :meth:`replace`).

    A study file (TOML) holds these settings at top level, in a ``[study]`` table, and/or
    grouped in section tables (:data:`SECTIONS`); a setting in the wrong section, an
    unknown setting or an unknown section is an error naming it and where it belongs.

    ``[data]``
        ``data`` is a CSV/Parquet path or ``builtin:heart-disease`` (then ``data_dir``
        may point at the four UCI files); ``site_column``, ``target``, ``features``
        (empty: all other columns except those that identify people, which are refused
        and named), ``categorical``/``numeric`` overrides, ``positive``.
        Lists are TOML arrays of column names or one comma-separated string.
        ``missing_codes``: values that mean "not recorded", per column, e.g.
        ``{chol = 0}`` or ``{chol = [0, 999]}`` (the CLI form ``"chol=0, trestbps=0"``);
        every site recodes them to missing before the quality check and training (a
        site adds its own in its site config's ``[missing]`` table). ``missing``:
        ``"impute"`` (default) keeps a row with a missing numeric or binary value: the
        value is replaced by the federated mean (from the sites' sums of observed values)
        and a ``<column> missing`` indicator column is added for every column missing
        anywhere; ``"complete-case"`` drops such rows (FLamby's protocol);
        ``"drop-feature"`` keeps the rows and leaves out every numeric or binary feature
        missing anywhere (named in the result). With ``"impute"`` a missing categorical
        value is a level of its own, ``(not recorded)``; otherwise such rows are dropped
        and counted.
        ``images``: an image study (docs/imaging.md): the folder of DICOM files, with
        ``data`` the labels table (``file_column``, default ``file``: each slice's path
        relative to ``images``; the ``target`` 0/1 and ``site_column``); needs
        ``model = "cnn"`` and ``standardise = "none"``. ``image_size`` (64): slices are
        resampled to this square grid; ``modality`` ("CT"; comma-separated for several):
        files of another modality are left out and counted; ``window``: how values map to
        [0, 1]: ``"auto"`` (CT -1000 to 400 HU, any other modality each slice's 0.5th to
        99.5th percentile), ``"percentile"`` or ``"low,high"`` (e.g. ``"-160,240"``).
    ``[split]``
        Each site splits its own rows: ``test_size`` (0.34, within 0.05-0.9) with
        ``split_seed`` (43), stratified where each class has more than 2 rows (the FLamby
        rule). A site with fewer than ``min_site_rows`` usable rows, or fewer than 2 test
        rows, is excluded from the study and reported (never merged with another site).
    ``[training]``
        ``model`` (logistic | mlp), ``C`` (inverse L2 strength), ``strategy`` (newton |
        fedavg | fedprox | fedadam; newton needs logistic), ``rounds`` (at most that
        many), ``tol`` (newton: stop after the round whose largest coefficient change is
        below ``tol``, e.g. 1e-6; 0, the default, runs every round), local
        ``local_steps``, ``lr``, ``batch_size``, FedProx ``prox_mu``, FedAdam server
        ``server_lr``, ``standardise`` (federated | local | none), ``personalise`` (auto |
        intercept | finetune | none), ``seed``.
    ``[fault_tolerance]``
        ``min_sites_per_round`` (0 = every eligible site must answer every round): with
        a number, a round goes ahead when at least that many sites answer within
        ``round_timeout`` seconds; a site that fails or drops is skipped for that round
        (named in ``missing_rounds``) and takes part again when it answers.
        ``checkpoint_dir``: the coordinator writes ``checkpoint.json`` (round, model
        arrays, history) there after every round; ``resume_from`` names such a file to
        continue a study after a coordinator crash (same settings; Newton, FedAvg or
        FedProx; not with DP, whose budget state lives at the sites).
    ``[privacy]`` (privacy and robustness)
        ``aggregation`` (mean | median | trimmed-mean | krum | multikrum; for the
        FedAvg family), ``trim_fraction`` (trimmed mean), ``expected_malicious`` (Krum),
        ``norm_bound`` (0 = off, else >= 1; an update whose norm exceeds this multiple of
        the median update norm is handled by ``norm_action``: reject | clip; FedAvg
        family), ``audit_dir`` (each site and the coordinator keep a hash-chained log
        there), ``min_cell`` (k of small-cell protection); record-level DP-SGD with
        ``dp_epsilon`` (0 = off; model logistic, FedAvg family), ``dp_delta`` and
        ``dp_max_grad_norm``: each site derives its noise so that the whole study
        (``rounds`` x ``local_steps`` steps) spends exactly that budget, and refuses to
        train past it. ``dp_level = "client"`` instead protects each site's whole
        contribution: the coordinator clips each site's update to ``dp_max_grad_norm``
        and adds Gaussian noise to their sum (Flower's server-side fixed-clipping
        wrapper), with the noise derived from the same (epsilon, delta) over ``rounds``
        rounds. ``secure_aggregation = true``: every sum over sites (standardisation
        sums, Newton gradients and Hessians, FedAvg-family model updates) goes through
        Flower's SecAgg+, so the coordinator sees only the sum (at least 3 sites;
        aggregation "mean" only, no norm bound, no client-level DP: those need each
        site's update).
    ``[quality]``
        ``quality_check`` (refuse | warn | off): before training, every eligible site
        sends small-cell protected data-quality aggregates (docs/quality.md);
        ``"refuse"`` (default) stops the study before training on a blocking finding
        (exit 3, saying how to proceed); ``"warn"`` is a conscious override: training
        goes ahead and the overridden findings are recorded in metrics.json, at the top
        of the report, in the registry and on the model card.
        Secure studies run it too (in the clear: its aggregates are compared site by
        site, not summed).

    Types are strict: ``true``/``false`` only for ``secure_aggregation``, whole numbers
    for integer settings (a number for float settings may be written ``2`` or ``2.0``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False,
                              protected_namespaces=())

    # [data]
    data: str = "builtin:heart-disease"
    data_dir: str = ""
    site_column: str = "site"
    target: str = "target"
    features: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    positive: str = ""
    missing_codes: dict[str, list[float]] = Field(default_factory=dict)
    missing: str = "impute"
    images: str = ""
    file_column: str = "file"
    image_size: int = Field(64, ge=8, le=512)
    modality: str = "CT"
    window: str = "auto"
    # [split]
    test_size: float = Field(0.34, ge=0.05, le=0.9)
    split_seed: int = 43
    min_site_rows: int = Field(10, ge=1)
    # [training]
    model: str = "logistic"
    C: float = Field(1.0, gt=0)
    strategy: str = "newton"
    rounds: int = Field(10, ge=1)
    tol: float = Field(0.0, ge=0)
    local_steps: int = Field(100, ge=1)
    lr: float = Field(0.05, gt=0)
    batch_size: int = Field(16, ge=1)
    prox_mu: float = Field(0.01, ge=0)
    server_lr: float = Field(0.05, gt=0)
    standardise: str = "federated"
    personalise: str = "auto"
    seed: int = 0
    # [privacy]
    aggregation: str = "mean"
    trim_fraction: float = Field(0.2, ge=0, lt=0.5)
    expected_malicious: int = 1
    norm_bound: float = Field(0.0, ge=0)
    norm_action: str = "reject"
    audit_dir: str = ""
    min_cell: int = Field(5, ge=1)
    dp_epsilon: float = Field(0.0, ge=0)
    dp_delta: float = Field(1e-5, gt=0, lt=1)
    dp_max_grad_norm: float = Field(1.0, gt=0)
    dp_level: str = "record"
    secure_aggregation: bool = False
    # [fault_tolerance]
    min_sites_per_round: int = Field(0, ge=0)
    round_timeout: float = Field(3600.0, gt=0)
    checkpoint_dir: str = ""
    resume_from: str = ""
    # [quality]
    quality_check: str = "refuse"

    def __init__(self, **settings: Any) -> None:
        try:
            super().__init__(**settings)
        except ValidationError as exc:
            raise InvalidSettings(exc, _EXPECTED) from None

    # -- one rule per setting ---------------------------------------------------------
    @field_validator(*_LISTS, mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """``"a, b"`` is accepted for a list of column names."""
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("missing_codes", mode="before")
    @classmethod
    def _missing_codes(cls, value: Any) -> Any:
        """``{chol = 0}``, ``{chol = [0, 999]}``, ``"chol=0, trestbps=0"`` or its JSON."""
        return parse_missing_codes(value)

    @field_validator(*_CHOICES)
    @classmethod
    def _choice(cls, value: str, info: ValidationInfo) -> str:
        allowed = _CHOICES[str(info.field_name)]
        if value not in allowed:
            raise ValueError(f"must be one of {list(allowed)}, got {show(value)}")
        return value

    @field_validator("norm_bound")
    @classmethod
    def _norm_bound(cls, value: float) -> float:
        if value and value < 1:
            raise ValueError(f"must be 0 (off) or >= 1 (a multiple of the median update "
                             f"norm), got {show(value)}")
        return value

    # -- rules across settings --------------------------------------------------------
    @model_validator(mode="after")
    def _newton_needs_logistic(self) -> StudyConfig:
        if self.strategy == "newton" and self.model != "logistic":
            raise ValueError("strategy 'newton' needs model 'logistic' (it sends Hessians); "
                             "use strategy fedavg, fedprox or fedadam for the mlp")
        return self

    @model_validator(mode="after")
    def _tol_needs_newton(self) -> StudyConfig:
        if self.tol and self.strategy != "newton":
            raise ValueError(f"tol (stop once the coefficients settle) applies to strategy "
                             f"'newton', not '{self.strategy}'; use tol = 0 or strategy "
                             "newton")
        return self

    @model_validator(mode="after")
    def _robust_aggregation_needs_fedavg(self) -> StudyConfig:
        if self.aggregation != "mean" and self.strategy == "newton":
            raise ValueError(f"aggregation '{self.aggregation}' applies to the FedAvg family "
                             "(Newton sums gradients); use strategy fedavg, fedprox or fedadam")
        return self

    @model_validator(mode="after")
    def _norm_bound_needs_fedavg(self) -> StudyConfig:
        if self.norm_bound and self.strategy == "newton":
            raise ValueError("norm_bound applies to the FedAvg family, not strategy 'newton'; "
                             "use strategy fedavg, fedprox or fedadam or norm_bound = 0")
        return self

    @model_validator(mode="after")
    def _dp_sgd_needs_logistic_fedavg(self) -> StudyConfig:
        if self.dp_epsilon and (self.strategy == "newton" or self.model == "mlp"):
            raise ValueError("record-level DP-SGD (dp_epsilon > 0) is available for models "
                             "'logistic' and 'cnn' with strategy fedavg, fedprox or fedadam")
        return self

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value

    @model_validator(mode="after")
    def _images_need_the_cnn(self) -> StudyConfig:
        if self.images and self.model != "cnn":
            raise ValueError("an image study (images = folder) needs model 'cnn'")
        if self.model == "cnn" and not self.images:
            raise ValueError("model 'cnn' reads images: set images (the DICOM folder; data "
                             "is then the labels table)")
        if self.images and self.standardise != "none":
            raise ValueError("an image study needs standardise 'none' (slices are windowed "
                             "to [0, 1] at each site as they are read)")
        return self

    @model_validator(mode="after")
    def _secure_aggregation_needs_sums(self) -> StudyConfig:
        if self.secure_aggregation and (self.aggregation != "mean" or self.norm_bound or (
                self.dp_epsilon and self.dp_level == "client")):
            raise ValueError("secure_aggregation hides each site's update: it needs "
                             "aggregation 'mean', no norm_bound and no client-level DP")
        return self

    @model_validator(mode="after")
    def _resume_needs_checkpointed_state(self) -> StudyConfig:
        if self.resume_from and (self.strategy == "fedadam" or self.dp_epsilon):
            raise ValueError("resume_from works for newton, fedavg and fedprox without DP "
                             "(FedAdam's optimiser state and DP budgets are not checkpointed)")
        return self

    def __hash__(self) -> int:
        return hash(tuple(self.to_run_config().items()))

    # -- views ------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """Short name of the training setup, e.g. ``fedavg+median`` (used in results)."""
        parts = [self.strategy]
        if self.aggregation != "mean":
            parts.append(self.aggregation)
        if self.norm_bound:
            parts.append(f"normbound-{self.norm_action}")
        if self.secure_aggregation:
            parts.append("secagg")
        if self.dp_epsilon:
            level = "" if self.dp_level == "record" else "client-"
            parts.append(f"dp-{level}eps={self.dp_epsilon:g}")
        return "+".join(parts)

    def replace(self, **changes: Any) -> StudyConfig:
        """A copy with ``changes`` applied (and validated): how a setting is changed."""
        return self._build({**self.__dict__, **changes})

    def to_dict(self) -> dict[str, Any]:
        """Every setting as a JSON-ready plain dict (lists are fresh copies)."""
        return {k: list(v) if isinstance(v, list) else
                {c: list(x) for c, x in v.items()} if isinstance(v, dict) else v
                for k, v in self.__dict__.items()}

    # -- Flower run config: flat str/int/float/bool values ------------------------------
    def to_run_config(self) -> dict[str, str | int | float | bool]:
        """Flatten to Flower's run-config form (lists become comma-separated strings,
        ``missing_codes`` a JSON string)."""
        return {_RUN_KEY[k]: ",".join(v) if isinstance(v, list) else
                json.dumps(v, sort_keys=True) if isinstance(v, dict) else v
                for k, v in self.__dict__.items()}

    @classmethod
    def from_run_config(cls, run_config: Mapping[str, Any]) -> StudyConfig:
        """Inverse of :meth:`to_run_config`; unknown keys are ignored.

        Lists arrive as comma-separated strings; every other value keeps its strict type
        (a bool must arrive as a bool, an integer as an integer).
        """
        settings = {name: run_config[key] for name, key in _RUN_KEY.items()
                    if key in run_config}
        return cls._build(settings, source="run config", where=_RUN_KEY)

    @classmethod
    def from_toml(cls, path: str | Path) -> StudyConfig:
        """Read a study file: settings at top level, in ``[study]`` and/or in sections."""
        path = Path(path)
        settings, where = _settings(read_toml(path, "study file"), str(path))
        return cls._build(settings, source=str(path), where=where)

    @classmethod
    def _build(cls, settings: Mapping[str, Any], source: str = "",
               where: Mapping[str, str] | None = None) -> StudyConfig:
        try:
            return cls(**settings)
        except InvalidSettings as exc:
            message = describe_errors(exc.validation_error, _EXPECTED, where)
            raise ConfigError(f"{source}: {message}" if source else message) from None


_EXPECTED = {**expectations(StudyConfig),
             **{name: f"one of {list(allowed)}" for name, allowed in _CHOICES.items()},
             "norm_bound": "0 (off) or a number >= 1"}
_RUN_KEY = {name: name.replace("_", "-") for name in StudyConfig.model_fields}
assert set(_SECTION_OF) == set(StudyConfig.model_fields), "SECTIONS must cover every setting"


def _settings(raw: dict[str, Any], source: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Flatten a study file into settings and, per setting, the key path it was read from."""
    settings: dict[str, Any] = {}
    where: dict[str, str] = {}
    errors: list[str] = []

    def put(key: str, value: Any, path: str) -> None:
        if key in settings:
            errors.append(f"{path}: set twice (also as {where[key]})")
        settings[key], where[key] = value, path

    tables: list[tuple[str, dict[str, Any]]] = [
        ("", {k: v for k, v in raw.items() if k != "study"})]
    if "study" in raw:
        if isinstance(raw["study"], dict):
            tables.append(("study.", raw["study"]))
        else:
            errors.append("study: expected a table of settings, got " + show(raw["study"]))
    for prefix, table in tables:
        for key, value in table.items():
            if key in SECTIONS and (isinstance(value, dict) or key not in _SECTION_OF):
                if not isinstance(value, dict):
                    errors.append(f"{prefix}{key}: expected a table of settings ([{key}]), "
                                  f"got {show(value)}")
                    continue
                for sub, subvalue in value.items():
                    home = _SECTION_OF.get(sub)
                    path = f"{prefix}{key}.{sub}"
                    if home == key:
                        put(sub, subvalue, path)
                    elif home is not None:
                        errors.append(f"{path}: not a {key} setting; it belongs in [{home}] "
                                      "(or at top level)")
                    else:
                        errors.append(f"{path}: unknown setting; [{key}] holds "
                                      f"{', '.join(SECTIONS[key])}")
            elif key in _SECTION_OF:  # "data" is a setting unless it is a table
                put(key, value, prefix + key)
            elif isinstance(value, dict):
                errors.append(f"[{prefix}{key}]: unknown section; sections: "
                              f"{', '.join(SECTIONS)}")
            else:
                close = difflib.get_close_matches(key, list(_SECTION_OF), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                errors.append(f"{prefix}{key}: unknown setting{hint}; known: "
                              f"{', '.join(sorted(_SECTION_OF))}")
    if errors:
        shown = "; ".join(errors[:_MAX_ERRORS])
        more = f"; and {len(errors) - _MAX_ERRORS} more" if len(errors) > _MAX_ERRORS else ""
        raise ConfigError(f"{source}: {shown}{more}")
    return settings, where
