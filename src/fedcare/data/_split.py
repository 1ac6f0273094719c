"""Per-site train/test split: each site splits its own rows, nothing is shared."""

from __future__ import annotations

from math import ceil, floor

import numpy as np

__all__ = ["site_split"]


def site_split(
    y: np.ndarray, *, test_size: float = 0.34, seed: int = 43
) -> tuple[np.ndarray, np.ndarray]:
    """Split one site's rows into train and test positions (the FLamby rule).

    Stratified by label where each class has more than 2 rows; otherwise shuffled.
    With the defaults this is exactly FLamby's Fed-Heart-Disease split.

    The positions are those of scikit-learn's ``train_test_split(np.arange(n),
    train_size=1 - test_size, test_size=test_size, random_state=seed, shuffle=True,
    stratify=...)`` (scikit-learn 1.9: ``ShuffleSplit`` / ``StratifiedShuffleSplit``),
    computed here with numpy alone: importing scikit-learn costs a site's ClientApp
    process 2-3 s per message (it pulls in ``scipy.stats``). A test holds the two equal.

    Parameters
    ----------
    y : ndarray of shape (n_rows,)
        The site's labels.

    Returns
    -------
    train, test : ndarray of int
        Positions into the site's rows.
    """
    y = np.asarray(y)
    n = len(y)
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2)
    n_train, n_test = _sizes(n, test_size)
    rng = np.random.RandomState(seed)
    if not (counts > 2).all():
        permutation = rng.permutation(n)
        return permutation[n_test:n_test + n_train], permutation[:n_test]
    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    if n_train < len(classes) or n_test < len(classes):
        raise ValueError(f"{n} rows: {n_train} train and {n_test} test rows cannot hold "
                         f"each of the {len(classes)} classes")
    class_indices = np.split(np.argsort(y_indices, kind="stable"),
                             np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for i in range(len(classes)):
        permutation = rng.permutation(class_counts[i])
        in_class = class_indices[i].take(permutation, mode="clip")
        train.extend(in_class[:n_i[i]])
        test.extend(in_class[n_i[i]:n_i[i] + t_i[i]])
    return rng.permutation(train), rng.permutation(test)


def _sizes(n: int, test_size: float) -> tuple[int, int]:
    """Train and test row counts, with scikit-learn's rounding and refusals."""
    train_size = 1.0 - test_size
    if not 0 < test_size < 1 or train_size + test_size > 1:
        raise ValueError(f"test_size={test_size} should be a fraction in (0, 1)")
    n_test = ceil(test_size * n)
    n_train = floor(train_size * n)
    if n_train + n_test > n:
        raise ValueError(f"{n} rows cannot give {n_train} train and {n_test} test rows")
    if n_train == 0 or n_test >= n or n_train >= n or n_test <= 0:
        raise ValueError(f"{n} rows are too few for a train/test split with "
                         f"test_size={test_size}")
    return n_train, n_test


def _approximate_mode(class_counts: np.ndarray, n_draws: int,
                      rng: np.random.RandomState) -> np.ndarray:
    """Rows per class out of ``n_draws`` (scikit-learn's ``_approximate_mode``: the
    floored shares, the rest by largest remainder, ties broken at random)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)
