"""Per-site train/test split: each site splits its own rows, nothing is shared."""

from __future__ import annotations

import numpy as np

__all__ = ["site_split"]


def site_split(
    y: np.ndarray, *, test_size: float = 0.34, seed: int = 43
) -> tuple[np.ndarray, np.ndarray]:
    """Split one site's rows into train and test positions (the FLamby rule).

    Stratified by label where each class has more than 2 rows; otherwise shuffled.
    With the defaults this is exactly FLamby's Fed-Heart-Disease split.

    Parameters
    ----------
    y : ndarray of shape (n_rows,)
        The site's labels.

    Returns
    -------
    train, test : ndarray of int
        Positions into the site's rows.
    """
    n = len(y)
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=2)
    stratify = y if (counts > 2).all() else None
    from sklearn.model_selection import train_test_split  # on first use: 0.6 s

    train, test = train_test_split(
        np.arange(n), train_size=1.0 - test_size, test_size=test_size,
        random_state=seed, shuffle=True, stratify=stratify,
    )
    return np.asarray(train), np.asarray(test)
