"""Privacy: DP-SGD and its accounting, membership-inference audits, audit logs."""

from fedcare.privacy._audit import AuditLog, AuditSummary, verify_log
from fedcare.privacy._dp import DPSGD, epsilon_spent, noise_for_budget
from fedcare.privacy._mia import membership_inference_auc
from fedcare.privacy._small_cell import suppress_small_cells

__all__ = [
    "DPSGD",
    "AuditLog",
    "AuditSummary",
    "epsilon_spent",
    "membership_inference_auc",
    "noise_for_budget",
    "suppress_small_cells",
    "verify_log",
]
