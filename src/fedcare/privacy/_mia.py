"""Membership-inference audit: how well can an attacker tell training rows from others?"""

from __future__ import annotations

import numpy as np

__all__ = ["membership_inference_auc"]


def membership_inference_auc(
    y_members: np.ndarray, p_members: np.ndarray,
    y_others: np.ndarray, p_others: np.ndarray,
) -> float:
    """AUC of the loss-threshold attack (Yeom et al. 2018) against a risk model.

    The attacker guesses "member" when a row's log-loss under the model is low. An AUC
    of 0.5 means the model's outputs reveal nothing about who was in the training data.

    Parameters
    ----------
    y_members, p_members : ndarray of shape (n_members,)
        Labels and predicted risks of rows the model was trained on.
    y_others, p_others : ndarray of shape (n_others,)
        The same for rows it never saw (e.g. the test rows).
    """
    def loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return np.asarray(-(y * np.log(p) + (1 - y) * np.log(1 - p)))

    scores = -np.concatenate([loss(y_members, p_members), loss(y_others, p_others)])
    truth = np.concatenate([np.ones(len(y_members)), np.zeros(len(y_others))])
    from sklearn.metrics import roc_auc_score  # on first use

    return float(roc_auc_score(truth, scores))
