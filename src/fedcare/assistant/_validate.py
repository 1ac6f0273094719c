"""Validate equations on a cohort, and recalibrate one to a federation from site sums only.

Recalibration follows SCORE2's regional method (SCORE2 working group, Eur Heart J 2021;42:
2439-2454): on the complementary log-log scale,
``ln(-ln(1 - p_new)) = a + b * ln(-ln(1 - p_equation))`` — ``a`` moves the baseline risk,
``b`` the slope.  The two parameters are fitted by Fisher scoring in which each site sends
only the sums of its score vector and information matrix (2 + 3 numbers) and its count;
no row leaves a site.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fedcare.assistant._equations import EQUATIONS, Result
from fedcare.assistant._profile import Profile
from fedcare.exceptions import ConvergenceWarning, DataError

__all__ = ["Recalibration", "calibration", "combine_sums", "equation_risks",
           "profiles_from_frame", "recalibrate", "site_sums"]

_EPS = 1e-12


#: Versions of an equation with alternative input sets: version -> the fields it needs.
VERSIONS = {"framingham_cvd_2008": {"lipid": 0, "bmi": 1}}


def profiles_from_frame(frame: Any, equation: str, columns: dict[str, str] | None = None,
                        male_code: str | None = None, version: str | None = None
                        ) -> list[Profile]:
    """One :class:`Profile` per row of a table holding an equation's inputs.

    ``columns`` maps a profile field to the table's column (default: the field's own
    name).  Numbers must be in the profile's conventional units (mg/dL, mmHg); yes/no
    columns hold 0/1 or true/false; ``sex`` holds female/male (or, with ``male_code``,
    the code that means male).  A value that cannot be read leaves the field empty, so
    the equation skips that row.  ``version`` picks one input set of an equation that
    has several (Framingham 2008: ``lipid`` or ``bmi``), so every row uses the same one.

    Raises
    ------
    DataError
        A column the equation needs is not in the table (named, with the option to map it).
    """
    import pandas as pd

    from fedcare.assistant._profile import FIELDS

    eq = EQUATIONS[equation]
    columns = dict(columns or {})
    sets = (eq.needs, *eq.alternatives)
    if version is not None:
        index = VERSIONS.get(equation, {}).get(version)
        if index is None:
            raise DataError(f"equation {equation} has no version '{version[:20]}'"
                            + (f"; versions: {', '.join(VERSIONS[equation])}"
                               if equation in VERSIONS else ""))
        sets = (sets[index],)
    wanted = sorted(set(sets[0]).union(*sets[1:]))
    present = {f: columns.get(f, f) for f in wanted if columns.get(f, f) in frame.columns}
    missing = [f for f in sets[0] if f not in present]
    if missing and not any(all(f in present for f in alt) for alt in sets[1:]):
        raise DataError(f"equation {equation}: no column for {', '.join(missing)}; name "
                        "the columns after the profile fields or map them (e.g. "
                        f"--column {missing[0]}=<column>)")
    values: dict[str, list[Any]] = {}
    for field, col in present.items():
        spec = FIELDS[field]
        raw = frame[col]
        if spec.kind == "number":
            num = pd.to_numeric(raw, errors="coerce").astype(float)
            ok = num.between(spec.low, spec.high)
            values[field] = [float(v) if k else None for v, k in zip(num, ok, strict=True)]
        elif spec.kind == "bool":
            text = raw.astype(str).str.strip().str.lower()
            values[field] = [True if t in ("1", "1.0", "true", "yes") else False
                             if t in ("0", "0.0", "false", "no") else None for t in text]
        elif field == "sex":
            text = raw.astype(str).str.strip().str.lower()
            if male_code is not None:
                code = str(male_code).strip().lower()
                values[field] = [None if pd.isna(v) else "male" if t in (code, code + ".0")
                                 else "female" for v, t in zip(raw, text, strict=True)]
            else:
                sexes = {"female": "female", "f": "female", "女": "female", "male": "male",
                         "m": "male", "男": "male"}
                values[field] = [sexes.get(t) for t in text]
                if raw.notna().any() and all(v is None for v in values[field]):
                    raise DataError(f"equation {equation}: column '{col}' (sex) holds no "
                                    "female/male values; give --male-code for a coded "
                                    "column (e.g. --male-code 1)")
        else:
            text = raw.astype(str).str.strip().str.lower()
            values[field] = [t if t in spec.choices else None for t in text]
    n = len(frame)
    return [Profile(**{f: v[i] for f, v in values.items()}) for i in range(n)]


def equation_risks(name: str, profiles: Sequence[Profile]) -> tuple[np.ndarray, np.ndarray]:
    """Risks of one equation over profiles: (risks, computed mask); skipped rows are NaN."""
    eq = EQUATIONS[name]
    risks = np.full(len(profiles), np.nan)
    for i, p in enumerate(profiles):
        r = eq.compute(p)
        if isinstance(r, Result) and r.risk is not None:
            risks[i] = r.risk
    return risks, ~np.isnan(risks)


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Discrimination and calibration: AUC with a 95 % bootstrap interval (500 resamples,
    seed 0), observed/expected, calibration intercept and slope (logistic on logit p), and
    observed vs predicted by tenth of predicted risk."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    if y.min() == y.max():
        raise DataError("calibration needs both outcomes among the rows")
    logit = np.log(p / (1 - p))
    slope, intercept = _logistic_fit(logit, y)
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, bins)
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(500):  # percentile bootstrap of the AUC (rows resampled)
        idx = rng.integers(0, len(y), len(y))
        if 0 < y[idx].sum() < len(idx):
            boots.append(roc_auc_score(y[idx], p[idx]))
    lo, hi = (np.percentile(boots, [2.5, 97.5]) if boots else (np.nan, np.nan))
    return {"n": len(y), "events": int(y.sum()), "auc": float(roc_auc_score(y, p)),
            "auc_ci95": [float(lo), float(hi)],
            "observed": float(y.mean()), "expected": float(p.mean()),
            "observed_expected": float(y.sum() / p.sum()),
            "calibration_slope": slope, "calibration_intercept": intercept,
            "deciles": [{"predicted": float(p[g].mean()), "observed": float(y[g].mean()),
                         "n": len(g)} for g in groups if len(g)]}


def _logistic_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of logit P(y) = c + s * x (Newton)."""
    beta = np.zeros(2)
    X = np.column_stack([np.ones_like(x), x])
    for _ in range(50):
        mu = 1 / (1 + np.exp(-(X @ beta)))
        W = mu * (1 - mu)
        step = np.linalg.solve(X.T @ (X * W[:, None]) + 1e-9 * np.eye(2), X.T @ (y - mu))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(beta[1]), float(beta[0])


def _cloglog(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(-np.log(1 - p))


def site_sums(p_equation: np.ndarray, y: np.ndarray, params: Sequence[float] | np.ndarray
              ) -> dict[str, Any]:
    """What one site sends for one Fisher-scoring step: the score vector and information
    matrix summed over its rows, its row count and log-likelihood (no row)."""
    x = _cloglog(np.asarray(p_equation, dtype=float))
    X = np.column_stack([np.ones_like(x), x])
    eta = X @ np.asarray(params, dtype=float)
    mu = np.exp(np.clip(eta, -30, 5))
    p = np.clip(1 - np.exp(-mu), _EPS, 1 - _EPS)
    dp = mu * np.exp(-mu)  # dp/deta
    y = np.asarray(y, dtype=float)
    score = X.T @ ((y - p) * dp / (p * (1 - p)))
    w = dp * dp / (p * (1 - p))
    info = X.T @ (X * w[:, None])
    loglik = float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return {"score": score.tolist(), "information": info.tolist(), "n": len(y),
            "events": int(y.sum()), "loglik": loglik}


def combine_sums(sums: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The coordinator's side: add the sites' sums."""
    return {"score": np.sum([s["score"] for s in sums], axis=0),
            "information": np.sum([s["information"] for s in sums], axis=0),
            "n": sum(s["n"] for s in sums), "events": sum(s["events"] for s in sums),
            "loglik": sum(s["loglik"] for s in sums)}


@dataclass(frozen=True)
class Recalibration:
    """Fitted cloglog recalibration: ``a`` (baseline) and ``b`` (slope)."""

    equation: str
    a: float
    b: float
    n: int
    events: int
    sites: int
    iterations: int
    version: str | None = None

    def apply(self, p_equation: np.ndarray) -> np.ndarray:
        """Recalibrated risks."""
        eta = self.a + self.b * _cloglog(np.asarray(p_equation, dtype=float))
        return np.asarray(1 - np.exp(-np.exp(eta)))

    def apply_result(self, r: Result) -> Result:
        """A computed score with its risk recalibrated (the published risk kept in
        ``detail``)."""
        from dataclasses import replace

        if r.risk is None or (self.version is not None and r.version != self.version):
            return r  # another version of the equation: its own calibration unknown
        risk = float(self.apply(np.array([r.risk]))[0])
        return replace(r, risk=risk, detail={**r.detail, "published_risk": r.risk,
                                             "recalibration": self.to_dict()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recalibration:
        """From the JSON of ``fedcare analytics recalibrate`` (or :meth:`to_dict`)."""
        from fedcare.exceptions import ConfigError

        try:
            name = str(data["equation"])
            a, b = float(data["a"]), float(data["b"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError("a recalibration needs 'equation', 'a' and 'b' (the JSON of "
                              "fedcare analytics recalibrate --json)") from None
        if name not in EQUATIONS or EQUATIONS[name].kind != "risk":
            raise ConfigError(f"recalibration: '{name[:40]}' is not a risk equation")
        if not (np.isfinite(a) and np.isfinite(b) and b > 0):
            raise ConfigError("recalibration: a must be finite and b positive")
        sites = data.get("sites")
        version = data.get("version")
        if version is not None and version not in VERSIONS.get(name, {}):
            raise ConfigError(f"recalibration: {name} has no version '{str(version)[:20]}'")
        return cls(name, a, b, int(data.get("n", 0)), int(data.get("events", 0)),
                   len(sites) if isinstance(sites, list) else int(sites or 0),
                   int(data.get("rounds", data.get("iterations", 0))), version)

    def to_dict(self) -> dict[str, Any]:
        return {"equation": self.equation, "version": self.version, "a": self.a, "b": self.b,
                "n": self.n, "events": self.events, "sites": self.sites,
                "iterations": self.iterations,
                "method": "cloglog(p_new) = a + b * cloglog(p_equation) (SCORE2's "
                          "regional recalibration), fitted from site sums only"}


def recalibrate(equation: str, sites: Sequence[tuple[np.ndarray, np.ndarray]], *,
                max_iter: int = 50, tol: float = 1e-9) -> Recalibration:
    """Fit the recalibration from per-site (equation risks, outcomes); each round every
    site computes :func:`site_sums` on its own rows and only the sums are combined."""
    import warnings

    params = np.array([0.0, 1.0])
    total: dict[str, Any] = {}
    for it in range(1, max_iter + 1):
        total = combine_sums([site_sums(p, y, params) for p, y in sites])
        if total["events"] == 0 or total["events"] == total["n"]:
            raise DataError("recalibration needs both outcomes in the federation")
        step = np.linalg.solve(np.asarray(total["information"]), np.asarray(total["score"]))
        params = params + step
        if np.max(np.abs(step)) < tol:
            return Recalibration(equation, float(params[0]), float(params[1]),
                                 total["n"], total["events"], len(sites), it)
    warnings.warn(f"recalibration of {equation} did not converge in {max_iter} steps",
                  ConvergenceWarning, stacklevel=2)
    return Recalibration(equation, float(params[0]), float(params[1]), total["n"],
                         total["events"], len(sites), max_iter)
