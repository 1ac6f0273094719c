"""Synthetic two-party tables for the vertical tests (synthetic: no real people).

A hospital holds ``bp`` and ``chol`` (risk factors: higher raises risk) and a
``ward`` category; an insurer holds ``claims`` (higher raises risk) and ``plan``;
the label ``event`` is at the hospital. Some insurer identifiers are written as exports
write them (lower case, spaces, full-width); 60% of people are at both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fedcare.vertical.examples import synthetic_parties


@pytest.fixture
def party_files(tmp_path: Path) -> tuple[Path, Path, set[str]]:
    hospital, insurer, shared = synthetic_parties()
    h, i = tmp_path / "hospital.csv", tmp_path / "insurer.csv"
    hospital.to_csv(h, index=False)
    insurer.to_csv(i, index=False)
    return h, i, shared
