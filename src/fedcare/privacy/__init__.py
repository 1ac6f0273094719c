"""Privacy: DP-SGD and its accounting, membership-inference audits, audit logs."""

from fedcare.privacy._dp import DPSGD, epsilon_spent, noise_for_budget

__all__ = ["DPSGD", "epsilon_spent", "noise_for_budget"]
