"""The one exception hierarchy of fedcare.

Every error a user can cause derives from :class:`FedcareError` and also from the
matching builtin, so ``except ValueError`` keeps working.  The CLI maps each class to
a documented exit code (``EXIT_CODE``); messages name files, columns, rows and counts,
never a patient's values.
"""

from __future__ import annotations

__all__ = [
    "AuditError",
    "ConfigError",
    "DataError",
    "DataNotFoundError",
    "FedcareError",
    "FederationError",
    "PrivacyBudgetError",
]


class FedcareError(Exception):
    """Root of every error fedcare raises on purpose."""

    exit_code: int = 1


class DataError(FedcareError, ValueError):
    """Input data are malformed: columns, types, labels, sites (CLI exit code 3)."""

    exit_code = 3


class DataNotFoundError(FedcareError, FileNotFoundError):
    """A data file or data set could not be found or fetched (CLI exit code 4)."""

    exit_code = 4


class ConfigError(FedcareError, ValueError):
    """A study setting or parameter is invalid (CLI exit code 5)."""

    exit_code = 5


class FederationError(FedcareError, RuntimeError):
    """A federated run failed: a site errored or too few sites answered (CLI exit code 6)."""

    exit_code = 6



class PrivacyBudgetError(FedcareError, ValueError):
    """A study would spend more privacy budget than allowed (CLI exit code 7)."""

    exit_code = 7


class AuditError(FedcareError, ValueError):
    """An audit log fails verification: broken hash chain or malformed line (exit code 8)."""

    exit_code = 8
