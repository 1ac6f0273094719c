"""A study's settings: plain data, read from TOML or Flower's run config."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fedcare.exceptions import ConfigError

__all__ = ["STRATEGIES", "StudyConfig"]

STRATEGIES = ("newton", "fedavg", "fedprox", "fedadam")
AGGREGATIONS = ("mean", "median", "trimmed-mean", "krum", "multikrum")
NORM_ACTIONS = ("reject", "clip")
DP_LEVELS = ("record", "client")
PRIVACY_PREFIXES = ("dp_",)
PRIVACY_KEYS = frozenset({"min_cell", "aggregation", "trim_fraction", "expected_malicious",
                          "norm_bound", "norm_action", "audit_dir", "secure_aggregation"})
MODELS = ("logistic", "mlp")
STANDARDISE = ("federated", "local", "none")
PERSONALISE = ("auto", "intercept", "finetune", "none")
QUALITY_CHECKS = ("refuse", "warn", "off")


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is a :class:`ConfigError`."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


@dataclass
class StudyConfig:
    """Everything that defines a federated study.

    Data
        ``data`` is a CSV/Parquet path or ``builtin:heart-disease`` (then ``data_dir``
        may point at the four UCI files); ``site_column``, ``target``, ``features``
        (empty: all other columns), ``categorical``/``numeric`` overrides, ``positive``.
    Split
        Each site splits its own rows: ``test_size`` (0.34) with ``split_seed`` (43),
        stratified where each class has more than 2 rows (the FLamby rule).
    Sites
        A site with fewer than ``min_site_rows`` usable rows, or fewer than 2 test rows,
        is excluded from the study and reported (never merged with another site).
    Model and training
        ``model`` (logistic | mlp), ``C`` (inverse L2 strength), ``strategy`` (newton |
        fedavg | fedprox | fedadam), ``rounds``, local ``local_steps``, ``lr``,
        ``batch_size``, FedProx ``prox_mu``, FedAdam server ``server_lr``,
        ``standardise`` (federated | local | none), ``personalise`` (auto | intercept |
        finetune | none), ``seed``.
    Fault tolerance
        ``min_sites_per_round`` (0 = every eligible site must answer every round): with
        a number, a round goes ahead when at least that many sites answer within
        ``round_timeout`` seconds; a site that fails or drops is skipped for that round
        (named in ``missing_rounds``) and takes part again when it answers.
        ``checkpoint_dir``: the coordinator writes ``checkpoint.json`` (round, model
        arrays, history) there after every round; ``resume_from`` names such a file to
        continue a study after a coordinator crash (same settings; Newton, FedAvg or
        FedProx; not with DP, whose budget state lives at the sites).
    Privacy and robustness
        ``aggregation`` (mean | median | trimmed-mean | krum | multikrum; for the
        FedAvg family), ``trim_fraction`` (trimmed mean), ``expected_malicious`` (Krum),
        ``norm_bound`` (0 = off; an update whose norm exceeds this multiple of the
        median update norm is handled by ``norm_action``: reject | clip),
        ``audit_dir`` (each site and the coordinator keep a hash-chained log there),
        ``min_cell`` (k of small-cell protection); record-level DP-SGD with
        ``dp_epsilon`` (0 = off), ``dp_delta`` and ``dp_max_grad_norm``: each site
        derives its noise so that the whole study (``rounds`` x ``local_steps`` steps)
        spends exactly that budget, and refuses to train past it. ``dp_level =
        "client"`` instead protects each site's whole contribution: the coordinator
        clips each site's update to ``dp_max_grad_norm`` and adds Gaussian noise to
        their sum (Flower's server-side fixed-clipping wrapper), with the noise derived
        from the same (epsilon, delta) over ``rounds`` rounds.
        ``secure_aggregation = true``: every sum over sites (standardisation sums, Newton
        gradients and Hessians, FedAvg-family model updates) goes through Flower's
        SecAgg+, so the coordinator sees only the sum (at least 3 sites; aggregation
        "mean" only, no norm bound, no client-level DP: those need each site's update).
    Data quality
        ``quality_check`` (refuse | warn | off): before training, every eligible site
        sends small-cell protected data-quality aggregates (docs/quality.md);
        ``"warn"`` logs the findings and puts them in metrics.json and the report,
        ``"refuse"`` also stops the study before training on a blocking finding.
        Not run with ``secure_aggregation``.
    """

    data: str = "builtin:heart-disease"
    data_dir: str = ""
    site_column: str = "site"
    target: str = "target"
    features: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    positive: str = ""
    test_size: float = 0.34
    split_seed: int = 43
    min_site_rows: int = 10
    model: str = "logistic"
    C: float = 1.0
    strategy: str = "newton"
    rounds: int = 10
    local_steps: int = 100
    lr: float = 0.05
    batch_size: int = 16
    prox_mu: float = 0.01
    server_lr: float = 0.05
    standardise: str = "federated"
    personalise: str = "auto"
    seed: int = 0
    aggregation: str = "mean"
    trim_fraction: float = 0.2
    expected_malicious: int = 1
    norm_bound: float = 0.0
    norm_action: str = "reject"
    audit_dir: str = ""
    min_cell: int = 5
    dp_epsilon: float = 0.0
    dp_delta: float = 1e-5
    dp_max_grad_norm: float = 1.0
    dp_level: str = "record"
    secure_aggregation: bool = False
    min_sites_per_round: int = 0
    round_timeout: float = 3600.0
    checkpoint_dir: str = ""
    resume_from: str = ""
    quality_check: str = "warn"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid setting."""
        for name in ("features", "categorical", "numeric"):  # "a,b" is accepted for lists
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, [v.strip() for v in value.split(",") if v.strip()])
            elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{name} must be a list of column names, got {value!r}")
        choices = {"strategy": STRATEGIES, "model": MODELS, "standardise": STANDARDISE,
                   "personalise": PERSONALISE, "aggregation": AGGREGATIONS,
                   "norm_action": NORM_ACTIONS, "dp_level": DP_LEVELS,
                   "quality_check": QUALITY_CHECKS}
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {list(allowed)}, got '{value}'")
        if self.strategy == "newton" and self.model != "logistic":
            raise ConfigError("strategy 'newton' needs model 'logistic' (it sends Hessians); "
                              "use strategy fedavg, fedprox or fedadam for the mlp")
        positive = {"rounds": self.rounds, "local_steps": self.local_steps,
                    "batch_size": self.batch_size, "min_site_rows": self.min_site_rows}
        for name, number in positive.items():
            if not isinstance(number, int) or number < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {number!r}")
        for name in ("C", "lr", "server_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0.05 <= self.test_size <= 0.9:
            raise ConfigError(f"test_size must be within 0.05-0.9, got {self.test_size!r}")
        if self.aggregation != "mean" and self.strategy == "newton":
            raise ConfigError(f"aggregation '{self.aggregation}' applies to the FedAvg family "
                              "(Newton sums gradients); use strategy fedavg, fedprox or fedadam")
        if not 0 <= self.trim_fraction < 0.5:
            raise ConfigError(f"trim_fraction must be within [0, 0.5), got {self.trim_fraction!r}")
        if self.norm_bound and (self.norm_bound < 1 or self.strategy == "newton"):
            raise ConfigError("norm_bound must be 0 (off) or >= 1 (a multiple of the median "
                              "update norm), and applies to the FedAvg family, not newton")
        if not isinstance(self.min_cell, int) or self.min_cell < 1:
            raise ConfigError(f"min_cell must be an integer >= 1, got {self.min_cell!r}")
        if self.dp_epsilon < 0 or not 0 < self.dp_delta < 1 or self.dp_max_grad_norm <= 0:
            raise ConfigError("dp_epsilon must be >= 0 (0 = off), 0 < dp_delta < 1, "
                              "dp_max_grad_norm > 0")
        if self.dp_epsilon and (self.strategy == "newton" or self.model != "logistic"):
            raise ConfigError("record-level DP-SGD (dp_epsilon > 0) is available for model "
                              "'logistic' with strategy fedavg, fedprox or fedadam")
        if self.secure_aggregation and (self.aggregation != "mean" or self.norm_bound or (
                self.dp_epsilon and self.dp_level == "client")):
            raise ConfigError("secure_aggregation hides each site's update: it needs "
                              "aggregation 'mean', no norm_bound and no client-level DP")
        if not isinstance(self.min_sites_per_round, int) or self.min_sites_per_round < 0:
            raise ConfigError("min_sites_per_round must be an integer >= 0 (0 = all sites)")
        if not self.round_timeout > 0:
            raise ConfigError(f"round_timeout must be > 0 seconds, got {self.round_timeout!r}")
        if self.resume_from and (self.strategy == "fedadam" or self.dp_epsilon):
            raise ConfigError("resume_from works for newton, fedavg and fedprox without DP "
                              "(FedAdam's optimiser state and DP budgets are not checkpointed)")
        if self.prox_mu < 0:
            raise ConfigError(f"prox_mu must be >= 0, got {self.prox_mu!r}")

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
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    # -- Flower run config: flat str/int/float/bool values --------------------------
    def to_run_config(self) -> dict[str, str | int | float | bool]:
        """Flatten to Flower's run-config form (lists become comma-separated strings)."""
        out: dict[str, str | int | float | bool] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            key = f.name.replace("_", "-")
            out[key] = ",".join(value) if isinstance(value, list) else value
        return out

    @classmethod
    def from_run_config(cls, run_config: dict[str, Any]) -> StudyConfig:
        """Inverse of :meth:`to_run_config`; unknown keys are ignored."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            key = f.name.replace("_", "-")
            if key not in run_config:
                continue
            value = run_config[key]
            if f.default_factory is not dataclasses.MISSING:  # list fields
                value = [v.strip() for v in str(value).split(",") if v.strip()]
            elif isinstance(f.default, bool):
                value = bool(value)
            elif isinstance(f.default, int):
                value = int(value)
            elif isinstance(f.default, float):
                value = float(value)
            else:
                value = str(value)
            kwargs[f.name] = value
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path) -> StudyConfig:
        """Read a study file: keys as in this class, in a ``[study]`` table or at top level."""
        path = Path(path)
        raw = read_toml(path, "study file")
        table = dict(raw.get("study", raw))
        # Privacy settings may sit in their own table: [privacy] dp_epsilon = 1.0
        nested = table.pop("privacy", None) or raw.get("privacy", {})
        if not isinstance(nested, dict):
            raise ConfigError(f"{path}: 'privacy' must be a table of settings")
        outside = sorted(k for k in nested if not k.startswith(PRIVACY_PREFIXES)
                         and k not in PRIVACY_KEYS)
        if outside:
            raise ConfigError(f"{path}: {outside} are not privacy settings; move them out of "
                              "the [privacy] table")
        table.update(nested)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**table)
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
