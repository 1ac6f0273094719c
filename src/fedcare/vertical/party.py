"""A party's own table for a vertical study: identifiers, features and (maybe) the label.

Each party reads only its own file. Identifiers are normalised
(:mod:`fedcare.vertical.ids`) and must be unique; rows without a usable identifier are
left out and counted. Features are every column but the identifier and the label
unless named: text columns are one-hot encoded (first level dropped), numbers keep their
value with missing values set to the column's median, and every feature is standardised
over the party's rows. A column that looks like an identifier (a distinct value on
nearly every row) is refused as a feature: a model must not learn who a person is.
Errors name the file, the column and counts, never a value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fedcare.exceptions import DataError, DataNotFoundError

from .ids import NormalisationReport, normalise_ids, require_unique

__all__ = ["MAX_LEVELS", "MISSING_MARKERS", "Aligned", "Encoder", "PartyTable", "align_label_party",
           "alignment", "in_test", "read_party"]

MAX_LEVELS = 50
MISSING_MARKERS = ["?"]
"""Read as missing beside pandas' own markers (empty, NA, NaN, null): UCI's ``?``."""


@dataclass
class PartyTable:
    """What one party brings: rows in its file's order, usable identifiers only."""

    name: str
    ids: list[str]
    X: np.ndarray
    feature_names: list[str]
    y: np.ndarray | None
    report: NormalisationReport
    left_out: dict[str, int] = field(default_factory=dict)
    encoder: Encoder | None = None

    @property
    def n(self) -> int:
        return len(self.ids)


def _label(values: pd.Series, where: str, positive: str | None) -> np.ndarray:
    """The label as 1.0 / 0.0 (NaN where missing): 0/1 (or true/false) as written; any
    other two values only with ``positive`` naming the outcome (never guessed: a guess
    the wrong way round flips every weight and leaves the AUC unchanged)."""
    present = values.dropna()
    levels = sorted({str(v).strip() for v in present})
    if len(levels) != 2:
        raise DataError(f"{where}: the label needs exactly two values, it has "
                        f"{len(levels)} distinct value(s)")
    if positive is not None:
        if positive not in levels:
            raise DataError(f"{where}: the positive value given is not one of the label's "
                            "two values")
        return np.asarray(values.map(lambda v: np.nan if pd.isna(v)
                                     else float(str(v).strip() == positive)), dtype=float)
    numeric = pd.to_numeric(present, errors="coerce")
    if numeric.notna().all() and set(numeric.unique()) <= {0, 1}:
        return np.asarray(pd.to_numeric(values, errors="coerce"), dtype=float)
    if {level.lower() for level in levels} == {"true", "false"}:
        return np.asarray(values.map(lambda v: np.nan if pd.isna(v)
                                     else float(str(v).strip().lower() == "true")), dtype=float)
    raise DataError(f"{where}: the label is not 0/1; name the value that means the outcome "
                    "(fedcare vertical train --positive VALUE, or 'positive' in the party's "
                    "node config)")


@dataclass
class Encoder:
    """How a party turned its columns into features, fitted on its training file and
    kept with its part of a model, so that new people's rows are encoded the same way
    (the training medians, levels, means and standard deviations)."""

    columns: list[dict[str, Any]]
    mean: list[float]
    std: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Encoder:
        return cls(list(data["columns"]), list(data["mean"]), list(data["std"]))

    @property
    def names(self) -> list[str]:
        out: list[str] = []
        for c in self.columns:
            out.extend([c["name"]] if c["kind"] == "number"
                       else [f"{c['name']}={level}" for level in c["levels"][1:]])
        return out

    def transform(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        """Encode new rows; a category level not seen in training is refused (counted,
        never shown: it would silently be read as the reference level)."""
        missing = [c["name"] for c in self.columns if c["name"] not in frame.columns]
        if missing:
            raise DataError(f"{where}: the model was trained with column(s) {missing}, "
                            "which this file lacks")
        blocks: list[np.ndarray] = []
        for c in self.columns:
            series = frame[c["name"]]
            if c["kind"] == "number":
                numeric = pd.to_numeric(series, errors="coerce")
                bad = int((numeric.isna() & series.notna()).sum())
                if bad:
                    raise DataError(f"{where}: column '{c['name']}' holds {bad} value(s) "
                                    "that are not numbers (it was numeric in training)")
                blocks.append(numeric.fillna(c["median"]).to_numpy(float)[:, None])
                continue
            text = series.astype("string").str.strip()
            unseen = int((~text.isin(c["levels"]) & text.notna()).sum())
            if unseen:
                raise DataError(f"{where}: column '{c['name']}' has {unseen} row(s) with a "
                                f"value not seen in training (it knows "
                                f"{len(c['levels'])} levels)")
            for level in c["levels"][1:]:
                blocks.append((text == level).fillna(False).to_numpy(float)[:, None])
        if not blocks:
            return np.zeros((len(frame), 0))
        X = np.hstack(blocks)
        return (X - np.asarray(self.mean)) / np.asarray(self.std)


def _features(frame: pd.DataFrame, columns: Sequence[str], where: str
              ) -> tuple[np.ndarray, list[str], Encoder]:
    blocks: list[np.ndarray] = []
    names: list[str] = []
    spec: list[dict[str, Any]] = []
    n = len(frame)
    for col in columns:
        series = frame[col]
        numeric = pd.to_numeric(series, errors="coerce")
        is_number = series.notna().sum() == 0 or numeric.notna().sum() == series.notna().sum()
        if is_number:
            distinct = numeric.nunique()
            if n >= 50 and distinct >= 0.95 * n and (numeric.dropna() % 1 == 0).all():
                raise DataError(f"{where}: column '{col}' has a distinct whole number on "
                                f"{distinct} of {n} rows: an identifier? Leave it out of "
                                "the features")
            median = float(numeric.median()) if numeric.notna().any() else 0.0
            values = numeric.fillna(median)
            blocks.append(values.to_numpy(float)[:, None])
            names.append(str(col))
            spec.append({"name": str(col), "kind": "number", "median": median})
            continue
        text = series.astype("string").str.strip()
        levels = sorted(text.dropna().unique().tolist())
        if len(levels) > MAX_LEVELS:
            raise DataError(f"{where}: column '{col}' has {len(levels)} distinct values "
                            f"(at most {MAX_LEVELS} for a category): an identifier or free "
                            "text? Leave it out of the features")
        for level in levels[1:]:
            blocks.append((text == level).fillna(False).to_numpy(float)[:, None])
            names.append(f"{col}={level}")
        spec.append({"name": str(col), "kind": "text", "levels": [str(v) for v in levels]})
    if not blocks:
        return np.zeros((n, 0)), [], Encoder(spec, [], [])
    X = np.hstack(blocks)
    mean, std = X.mean(axis=0), X.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (X - mean) / std, names, Encoder(spec, mean.tolist(), std.tolist())


def read_party(path: str | Path, id_column: str, *, name: str, kind: str = "generic",
               label: str | None = None, features: Sequence[str] | None = None,
               positive: str | None = None, encoder: Encoder | None = None) -> PartyTable:
    """Read one party's CSV (or Parquet) into a :class:`PartyTable`.

    With ``encoder`` (a trained model's, for new people) its columns are encoded as in
    training and ``features`` is ignored.

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    DataError
        A named column is missing, identifiers repeat, the label is not binary, or a
        feature looks like an identifier.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"party '{name}': no file at {path}")
    where = f"{path.name} (party '{name}')"
    try:
        frame = (pd.read_parquet(path) if path.suffix == ".parquet"
                 else pd.read_csv(path, dtype={id_column: str}, low_memory=False,
                                  na_values=MISSING_MARKERS))
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{where}: not a readable CSV or Parquet file "
                        f"({type(exc).__name__})") from exc
    wanted = [id_column, *([label] if label else []),
              *(features or [] if encoder is None else [])]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: no column(s) {missing}; it has {list(frame.columns)}")
    ids, report = normalise_ids(frame[id_column], kind, source=where)
    if len(frame) and report.usable == 0:
        raise DataError(f"{where}: no usable identifier in column '{id_column}' "
                        f"({report.invalid} invalid, {report.empty} empty as '{kind}'): is "
                        "--id-kind right for this column?")
    require_unique(ids, report)
    keep = np.array([i is not None for i in ids])
    frame = frame.loc[keep].reset_index(drop=True)
    columns = list(features) if features is not None else [
        c for c in frame.columns if c not in (id_column, label)]
    if encoder is None:
        X, names, encoder = _features(frame, columns, where)
    else:
        X, names = encoder.transform(frame, where), encoder.names
    y = _label(frame[label], f"{where}, column '{label}'", positive) if label else None
    left_out = {"no usable identifier": int((~keep).sum())}
    if y is not None:
        left_out["label missing"] = int(np.isnan(y).sum())
    return PartyTable(name, [i for i in ids if i is not None], X, names, y, report, left_out,
                      encoder)


def in_test(identifier: str, seed: str, fraction: float) -> bool:
    """Whether a matched person is a test row: a keyed hash of the normalised id, so the
    label party's split can be reproduced by whoever holds the ids (for reference
    models) and never depends on a party's row order."""
    digest = hashlib.sha256(f"{seed}\x00{identifier}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < fraction


def alignment(label_party: PartyTable, passive: PartyTable) -> np.ndarray:
    """For each of the passive party's rows, the label party's row of the same person
    (-1 where none): what the PSI gives the label party, computed here from both tables
    (only where one process holds both, for references and benchmarks)."""
    where = {v: k for k, v in enumerate(label_party.ids)}
    return np.array([where.get(v, -1) for v in passive.ids], dtype=np.int64)


@dataclass
class Aligned:
    """The label party's block in the passive party's row order (zeros where a row is
    not matched): features with an intercept column first, label, training and test
    masks, and the feature names."""

    X: np.ndarray
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray
    names: list[str]


def align_label_party(table: PartyTable, align: np.ndarray, *, seed: str, fraction: float,
                      own_features: bool = True) -> Aligned:
    """The label party's rows placed on the passive party's rows (``align``), split
    into training and test people by :func:`in_test`; rows without a label in neither."""
    if table.y is None:
        raise DataError(f"party '{table.name}' holds no label")
    matched = align >= 0
    rows = align[matched]
    own = table.X if own_features else table.X[:, :0]
    X = np.zeros((len(align), own.shape[1] + 1))
    X[matched, 0] = 1.0
    X[matched, 1:] = own[rows]
    y = np.zeros(len(align))
    labelled = np.zeros(len(align), bool)
    y[matched] = np.nan_to_num(table.y[rows])
    labelled[matched] = ~np.isnan(table.y[rows])
    test = np.zeros(len(align), bool)
    test[matched] = [in_test(table.ids[r], seed, fraction) for r in rows]
    names = ["(intercept)"] + (table.feature_names if own_features else [])
    return Aligned(X, y, labelled & ~test, labelled & test, names)
