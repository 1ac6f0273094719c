"""Logging helpers shared by the core and the adapters."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quieted"]


@contextmanager
def quieted(name: str, level: int) -> Iterator[None]:
    """The logger ``name`` shows only records at ``level`` and above while inside."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)
