"""The validated cohort every model and study works on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fedcare.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

FeatureKind = Literal["numeric", "binary", "categorical"]


@dataclass(frozen=True)
class Feature:
    """One input column of a study.

    Parameters
    ----------
    name : str
        Column name in the source table.
    kind : {"numeric", "binary", "categorical"}
        How the column is encoded: numeric and binary columns are used as they are,
        categorical ones are one-hot encoded with the first level dropped.
    unit : str or None
        Unit of measurement (UCUM-style, e.g. ``"mm[Hg]"``), if known.
    categories : tuple of str
        The agreed levels of a categorical feature, sorted.  Sites agree on them by
        sharing their level *sets* (never rows) before encoding.
    valid_range : tuple of float or None
        Plausible ``(low, high)`` values in ``unit`` (e.g. systolic BP 50-300 mm[Hg]);
        the quality report flags values outside it and the prediction API refuses them.
    impute : float or None
        For a numeric or binary feature missing somewhere in the federation (``[data]
        missing = "impute"``): the federated mean of its observed values (in ``unit``),
        computed from the sites' sums. A missing value is replaced by it and the feature
        gains a 0/1 indicator column ``"<name> missing"`` right after its own.
    """

    name: str
    kind: FeatureKind = "numeric"
    unit: str | None = None
    categories: tuple[str, ...] = ()
    valid_range: tuple[float, float] | None = None
    impute: float | None = None

    @property
    def encoded_names(self) -> list[str]:
        """Names of the model columns this feature becomes."""
        if self.kind == "categorical":
            return [f"{self.name}={level}" for level in self.categories[1:]]
        if self.impute is not None:
            return [self.name, missing_indicator(self.name)]
        return [self.name]


def missing_indicator(name: str) -> str:
    """The name of the 0/1 column flagging rows where feature ``name`` was missing."""
    return f"{name} missing"


@dataclass(frozen=True)
class Schema:
    """What a study's table holds: features, target and site columns.

    Parameters
    ----------
    features : tuple of Feature
        Input features in model order.
    target : str
        Binary outcome column (1 = event / disease).
    site_column : str
        Column naming the hospital each row belongs to.
    """

    features: tuple[Feature, ...]
    target: str = "target"
    site_column: str = "site"

    @property
    def feature_names(self) -> list[str]:
        """Names of the encoded model columns, in order."""
        return [name for f in self.features for name in f.encoded_names]

    def feature(self, name: str) -> Feature:
        """Return the feature called ``name``."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def merge_categories(self, level_sets: Sequence[dict[str, list[str]]]) -> Schema:
        """Return a schema whose categorical levels are the union over sites.

        Parameters
        ----------
        level_sets : sequence of dict
            One mapping ``feature name -> levels seen at that site`` per site.
        """
        merged: list[Feature] = []
        for f in self.features:
            if f.kind != "categorical":
                merged.append(f)
                continue
            levels: set[str] = set(f.categories)
            for levels_at_site in level_sets:
                levels.update(levels_at_site.get(f.name, []))
            merged.append(replace(f, categories=tuple(sorted(levels, key=_level_key))))
        return replace(self, features=tuple(merged))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Schema:
        """Inverse of :meth:`to_dict`."""
        features = tuple(
            Feature(name=f["name"], kind=f["kind"], unit=f.get("unit"),
                    categories=tuple(f.get("categories", ())),
                    valid_range=tuple(f["valid_range"]) if f.get("valid_range") else None,
                    impute=None if f.get("impute") is None else float(f["impute"]))
            for f in raw["features"]
        )
        return cls(features=features, target=raw["target"], site_column=raw["site_column"])

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description (names, kinds, units, levels; no data)."""
        return {
            "target": self.target,
            "site_column": self.site_column,
            "features": [
                {"name": f.name, "kind": f.kind, "unit": f.unit, "categories": list(f.categories),
                 "valid_range": list(f.valid_range) if f.valid_range else None,
                 **({"impute": f.impute} if f.impute is not None else {})}
                for f in self.features
            ],
            "encoded_feature_names": self.feature_names,
        }


MISSING_LEVEL = "(not recorded)"
"""The level a missing categorical value becomes with ``missing = "impute"`` (the
"missing category" method); it sorts last, so it is never the reference level."""


def _level_key(level: str) -> tuple[int, float, str]:
    """Sort numeric-looking levels numerically, then the rest alphabetically, then
    :data:`MISSING_LEVEL`."""
    if level == MISSING_LEVEL:
        return (2, 0.0, level)
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def level_of(value: object) -> str:
    """Canonical string for a categorical value (``2.0`` and ``2`` are the same level)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def encode(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """One-hot encode ``frame`` with the agreed levels of ``schema``.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, ...)
        Holds every feature column. Missing values are allowed only in features with an
        ``impute`` value (they are filled and flagged by the indicator column) and, for
        the sums of the imputation round, in numeric and binary ones (kept as NaN).

    Returns
    -------
    X : ndarray of shape (n_rows, len(schema.feature_names)), float64
    """
    columns: list[np.ndarray] = []
    for f in schema.features:
        values = frame[f.name]
        if f.kind == "categorical":
            if MISSING_LEVEL in f.categories:
                values = values.astype(object).where(values.notna(), MISSING_LEVEL)
            levels = values.map(level_of).to_numpy()
            unknown = ~np.isin(levels, np.asarray(f.categories, dtype=object))
            if unknown.any():
                raise DataError(
                    f"column '{f.name}': {int(unknown.sum())} rows hold a level outside the "
                    f"{len(f.categories)} agreed levels"
                )
            for level in f.categories[1:]:
                columns.append((levels == level).astype(np.float64))
        else:
            numbers = values.to_numpy(dtype=np.float64)
            if f.impute is not None:
                absent = np.isnan(numbers)
                columns.append(np.where(absent, f.impute, numbers))
                columns.append(absent.astype(np.float64))
            else:
                columns.append(numbers)
    if not columns:
        return np.zeros((len(frame), 0))
    return np.column_stack(columns)


@dataclass
class Cohort:
    """A validated, encoded cohort: the only data type the core trusts.

    Parameters
    ----------
    X : ndarray of shape (n_patients, n_features), float64
        Encoded feature matrix (categoricals one-hot, first level dropped).
    y : ndarray of shape (n_patients,), int64
        Binary label, 1 = event.
    site : ndarray of shape (n_patients,), object
        Hospital name of each row.
    schema : Schema
        Feature names, kinds, units and categorical levels.
    dropped : dict
        Per site, the number of rows left out because a feature was missing.
    """

    X: np.ndarray
    y: np.ndarray
    site: np.ndarray
    schema: Schema
    dropped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.X.shape[0]
        if self.X.ndim != 2 or self.y.shape != (n,) or self.site.shape != (n,):
            raise DataError(
                f"cohort arrays disagree: X {self.X.shape}, y {self.y.shape}, "
                f"site {self.site.shape}"
            )
        if self.X.shape[1] != len(self.schema.feature_names):
            raise DataError(
                f"X has {self.X.shape[1]} columns but the schema names "
                f"{len(self.schema.feature_names)}"
            )

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def feature_names(self) -> list[str]:
        """Encoded feature names, one per column of ``X``."""
        return self.schema.feature_names

    @property
    def sites(self) -> list[str]:
        """Site names in order of first appearance."""
        return list(dict.fromkeys(self.site.tolist()))

    def for_site(self, name: str) -> Cohort:
        """The rows of one site."""
        mask = self.site == name
        if not mask.any():
            raise DataError(f"site '{name}' is not in this cohort (sites: {self.sites})")
        return Cohort(
            self.X[mask], self.y[mask], self.site[mask], self.schema,
            {name: self.dropped.get(name, 0)},
        )

    def take(self, index: np.ndarray) -> Cohort:
        """The rows at ``index`` (positions)."""
        return Cohort(self.X[index], self.y[index], self.site[index], self.schema, self.dropped)

    def by_site(self) -> Iterator[tuple[str, Cohort]]:
        """Iterate over ``(site name, site cohort)``."""
        for name in self.sites:
            yield name, self.for_site(name)

    def summary(self) -> pd.DataFrame:
        """Rows, events and prevalence per site (aggregates only)."""
        import pandas as pd

        rows = []
        for name, part in self.by_site():
            rows.append(
                {
                    "site": name,
                    "rows": len(part),
                    "events": int(part.y.sum()),
                    "prevalence": float(part.y.mean()) if len(part) else float("nan"),
                    "dropped_missing": self.dropped.get(name, 0),
                }
            )
        return pd.DataFrame(rows)
