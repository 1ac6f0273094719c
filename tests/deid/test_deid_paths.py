"""Files and folders: mirrored trees, all-or-nothing output, refusals (synthetic data)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fedcare.deid import deidentify_path
from fedcare.exceptions import ConfigError, DataError, DataNotFoundError

KEY = b"synthetic-test-key-0123456789abcdef"


def _tree(root: Path) -> Path:
    src = root / "in"
    (src / "notes" / "2021").mkdir(parents=True)
    (src / "notes" / "2021" / "a.txt").write_text(
        "Patient: Zyxwvut Okafor, MRN 12345678, seen 03/04/2021. Call 617-555-0134.\n",
        encoding="utf-8")
    (src / "notes" / "b.txt").write_text("患者张伟，92岁，电话13812345678。", encoding="utf-8")
    (src / "tables").mkdir()
    (src / "tables" / "cohort.csv").write_text(
        "name,mrn,dob,sbp\nZyxwvut Okafor,001,1950-01-02,120\n", encoding="utf-8")
    (src / "README.md").write_text("not processed")
    return src


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_folder_is_mirrored(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    out = tmp_path / "out"
    summary = deidentify_path(src, out, key=KEY)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "notes/2021/a.txt", "notes/b.txt", "tables/cohort.csv"]
    text = (out / "notes" / "2021" / "a.txt").read_text(encoding="utf-8")
    assert "Zyxwvut" not in text and "12345678" not in text and "555-0134" not in text
    assert "13812345678" not in (out / "notes" / "b.txt").read_text(encoding="utf-8")
    assert "Zyxwvut" not in (out / "tables" / "cohort.csv").read_text(encoding="utf-8")
    assert summary.files == {"text": 2, "table": 1}
    assert summary.skipped == 1
    assert summary.phi["NAME"] >= 3 and summary.phi["PHONE"] == 2
    assert _leftovers(tmp_path) == []  # no staging folder left behind


def test_failure_leaves_no_output(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    (src / "tables" / "zz_bad.csv").write_bytes("name\nZyxwvut Müller\n".encode("latin-1"))
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"zz_bad\.csv: not UTF-8") as info:
        deidentify_path(src, out, key=KEY)
    assert "Zyxwvut" not in str(info.value)
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_overwrite_replaces_whole_folder(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    out = tmp_path / "out"
    deidentify_path(src, out, key=KEY)
    with pytest.raises(ConfigError, match="exists; pass --overwrite"):
        deidentify_path(src, out, key=KEY)
    (out / "stale.txt").write_text("old output")
    shutil.rmtree(src / "tables")
    deidentify_path(src, out, key=KEY, overwrite=True)
    assert not (out / "stale.txt").exists() and not (out / "tables").exists()
    assert (out / "notes" / "b.txt").exists()
    assert _leftovers(tmp_path) == []


def test_single_files(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    out = tmp_path / "a-deid.txt"
    summary = deidentify_path(src / "notes" / "2021" / "a.txt", out, mode="pseudonym", key=KEY)
    assert "[NAME-" in out.read_text(encoding="utf-8") and summary.files == {"text": 1}
    with pytest.raises(ConfigError, match=r"unsupported file type \.md"):
        deidentify_path(src / "README.md", tmp_path / "x.md", key=KEY)


def test_refusals(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    with pytest.raises(DataNotFoundError, match="no such file"):
        deidentify_path(tmp_path / "missing", tmp_path / "o", key=KEY)
    with pytest.raises(ConfigError, match="is the input itself"):
        deidentify_path(src, src, key=KEY)
    with pytest.raises(ConfigError, match="inside the input folder"):
        deidentify_path(src, src / "notes" / "out", key=KEY)
    with pytest.raises(ConfigError, match="contains the input"):
        deidentify_path(src / "notes" / "b.txt", src, key=KEY, overwrite=True)
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "x.json").write_text("{}")
    with pytest.raises(DataNotFoundError, match=r"no \.txt, \.csv, \.tsv or \.dcm files"):
        deidentify_path(empty, tmp_path / "o", key=KEY)
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "outdir").mkdir()
    with pytest.raises(ConfigError, match="is a folder but the input is a file"):
        deidentify_path(tmp_path / "plain.txt", tmp_path / "outdir", key=KEY, overwrite=True)
