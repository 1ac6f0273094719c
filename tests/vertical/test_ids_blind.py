"""Blind pairs for ``fedcare.vertical.ids.normalise_ids`` (identifiers before a PSI).

The pairs in data/id_pairs.csv were written from the specification only, blind to the
implementation: their author had not read fedcare.vertical.  Every identifier in them is
SYNTHETIC (made-up resident identity numbers with check characters computed by ISO 7064
MOD 11-2, fictional phone numbers and record numbers); none belongs to a real person.

Each row is ``kind,a,b,same,note``.  ``same == 1``: the two strings are the same person's
identifier written differently (a hospital clerk vs an insurer's claims system), so both
must normalise to the same non-None value.  ``same == 0``: different people, or at least
one invalid or missing value, so the normalised values must differ or one must be None
(None never matches anything).
"""

from __future__ import annotations

import csv
from pathlib import Path

PAIRS = Path(__file__).resolve().parent / "data" / "id_pairs.csv"
KINDS = {"resident_id", "phone", "generic", "mrn"}


def _rows() -> list[tuple[int, dict[str, str]]]:
    """The pairs with their line numbers in the file (the header is line 1)."""
    with PAIRS.open(encoding="utf-8", newline="") as f:
        return list(enumerate(csv.DictReader(f), start=2))


def test_the_pairs_file_is_well_formed() -> None:
    rows = _rows()
    assert len(rows) >= 60
    for line, row in rows:
        assert list(row) == ["kind", "a", "b", "same", "note"], line
        assert row["kind"] in KINDS, (line, row["kind"])
        assert row["same"] in {"0", "1"}, (line, row["same"])
        assert row["note"], line
    kinds = {row["kind"] for _, row in rows}
    assert kinds == KINDS
    for kind in KINDS:  # each kind has both positives and hard negatives
        assert {row["same"] for _, row in rows if row["kind"] == kind} == {"0", "1"}, kind


def test_normalised_pairs_match_exactly_when_same_person() -> None:
    # imported here so that, until the module exists, only this test fails (not collection)
    from fedcare.vertical.ids import normalise_ids

    failures = []
    for line, row in _rows():
        kind, a, b = row["kind"], row["a"], row["b"]
        na = normalise_ids([a], kind)[0][0]
        nb = normalise_ids([b], kind)[0][0]
        if row["same"] == "1":
            ok = na is not None and na == nb
        else:
            ok = na is None or nb is None or na != nb
        if not ok:
            failures.append(
                f"line {line} [{kind}, same={row['same']}] {row['note']}: "
                f"{a!r} -> {na!r}, {b!r} -> {nb!r}"
            )
    assert not failures, f"{len(failures)} pair(s) wrong:\n" + "\n".join(failures)
