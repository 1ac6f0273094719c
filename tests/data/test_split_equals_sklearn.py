"""``site_split`` computes with numpy the positions scikit-learn's ``train_test_split``
gives (the FLamby rule), so that a site's ClientApp process need not import
scikit-learn; here scikit-learn itself is the reference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from fedcare.data import site_split


def _sklearn(y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(y.astype(np.int64), minlength=2)
    train, test = train_test_split(
        np.arange(len(y)), train_size=1.0 - test_size, test_size=test_size,
        random_state=seed, shuffle=True, stratify=y if (counts > 2).all() else None)
    return np.asarray(train), np.asarray(test)


def _cases() -> list[tuple[np.ndarray, float, int]]:
    rng = np.random.default_rng(2026)
    cases = []
    for _ in range(400):
        n = int(rng.integers(1, 400))
        y = (rng.random(n) < rng.choice([0.01, 0.05, 0.2, 0.5, 0.9])).astype(int)
        cases.append((y, float(rng.choice([0.34, 0.2, 0.25, 0.1, 0.5, 0.33, 0.7])),
                      int(rng.integers(0, 10_000))))
    # the heart hospitals' sizes and the study defaults; a site of one class
    cases += [(np.r_[np.zeros(164), np.ones(139)].astype(int), 0.34, 43),
              (np.r_[np.zeros(8), np.ones(115)].astype(int), 0.34, 43),
              (np.ones(50, dtype=int), 0.34, 43), (np.zeros(3, dtype=int), 0.34, 1)]
    return cases


def test_the_same_positions_as_scikit_learn() -> None:
    refused = compared = 0
    for y, test_size, seed in _cases():
        try:
            want = _sklearn(y, test_size, seed)
        except ValueError:
            with pytest.raises(ValueError):
                site_split(y, test_size=test_size, seed=seed)
            refused += 1
            continue
        got = site_split(y, test_size=test_size, seed=seed)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        compared += 1
    assert compared > 350 and refused > 0  # both branches were exercised


def test_the_site_path_needs_no_scikit_learn() -> None:
    import subprocess
    import sys

    probe = ("import sys, numpy as np\nfrom fedcare.data._split import site_split\n"
             "site_split(np.r_[np.zeros(20), np.ones(20)].astype(int))\n"
             "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
