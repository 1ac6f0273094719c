"""The one exception hierarchy of fedcare, and its one error table.

Every error a user can cause derives from :class:`FedcareError` and also from the
matching builtin, so ``except ValueError`` keeps working.  Each class carries the CLI's
exit code (``exit_code``), the prediction API's HTTP status (``http_status``) and a
one-line ``meaning``; :data:`ERROR_TABLE` lists them, and the CLI help
(:func:`exit_code_help`), the API's error handler and the README's exit-code paragraph
are generated from or checked against it.  Messages name files, columns, rows and
counts, never a patient's values.
"""

from __future__ import annotations

import re
from typing import ClassVar

__all__ = [
    "ERROR_TABLE",
    "FIXED_EXIT_CODES",
    "AuditError",
    "ConfigError",
    "ConvergenceWarning",
    "DataError",
    "DataNotFoundError",
    "FedcareError",
    "FederationError",
    "PolicyRefusal",
    "PrivacyBudgetError",
    "exit_code_help",
    "exit_codes",
]


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped at its iteration limit before converging (as scikit-learn's
    ``ConvergenceWarning``): the estimates may be inaccurate."""


class FedcareError(Exception):
    """Root of every error fedcare raises on purpose."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500
    meaning: ClassVar[str] = "unexpected error"


class DataError(FedcareError, ValueError):
    """Input data are malformed: columns, types, labels, sites (CLI exit code 3)."""

    exit_code = 3
    http_status = 422
    meaning = "bad input data"


class DataNotFoundError(FedcareError, FileNotFoundError):
    """A data file, data set or registered model could not be found (CLI exit code 4)."""

    exit_code = 4
    http_status = 404
    meaning = "data file, data set or model not found"


class ConfigError(FedcareError, ValueError):
    """A study setting or parameter is invalid (CLI exit code 5)."""

    exit_code = 5
    http_status = 400
    meaning = "invalid study setting or parameter"


class FederationError(FedcareError, RuntimeError):
    """A federated run failed: a site errored or too few sites answered (CLI exit code 6)."""

    exit_code = 6
    http_status = 502
    meaning = "the federated run failed"


class PolicyRefusal(FedcareError, PermissionError):
    """A site refused a study under its policy (CLI exit code 6)."""

    exit_code = 6
    http_status = 403
    meaning = "a site refused the study under its policy"


class PrivacyBudgetError(FedcareError, ValueError):
    """A study would spend more privacy budget than allowed (CLI exit code 7)."""

    exit_code = 7
    http_status = 403
    meaning = "privacy budget exceeded"


class AuditError(FedcareError, ValueError):
    """An audit log fails verification: broken hash chain or malformed line (exit code 8)."""

    exit_code = 8
    http_status = 500
    meaning = "an audit log failed verification"


#: Every documented error class, in exit-code order (subclasses elsewhere inherit a row).
ERROR_TABLE: tuple[type[FedcareError], ...] = (
    DataError, DataNotFoundError, ConfigError, FederationError, PolicyRefusal,
    PrivacyBudgetError, AuditError,
)

#: Exit codes that belong to no error class: (code, meaning, HTTP status or None).
FIXED_EXIT_CODES: tuple[tuple[int, str, int | None], ...] = (
    (0, "success", None),
    (1, "unexpected error (a bug: rerun with FEDCARE_DEBUG=1 for the traceback and report "
        "it)", FedcareError.http_status),
    (2, "wrong command-line usage", None),
)


def exit_codes() -> dict[int, list[tuple[str, int | None]]]:
    """Exit code -> its meanings with their HTTP status (None: no API counterpart)."""
    out: dict[int, list[tuple[str, int | None]]] = {}
    for code, meaning, status in FIXED_EXIT_CODES:
        out.setdefault(code, []).append((meaning, status))
    for cls in ERROR_TABLE:
        out.setdefault(cls.exit_code, []).append((cls.meaning, cls.http_status))
    return dict(sorted(out.items()))


def exit_code_help(*, http: bool = False, markdown: bool = False) -> str:
    """The exit codes in one sentence: the CLI's epilog, or (``http``, ``markdown``) the
    README's list with each error's HTTP status in the prediction API."""
    items = []
    for code, meanings in exit_codes().items():
        parts = []
        for meaning, status in meanings:
            if markdown:
                meaning = re.sub(r"(FEDCARE_DEBUG=1)", r"`\1`", meaning)
            parts.append(f"{meaning} (HTTP {status})" if http and status else meaning)
        items.append(f"{code} {' or '.join(parts)}")
    return "Exit codes: " + "; ".join(items) + "."
