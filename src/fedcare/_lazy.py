"""Lazy package exports (PEP 562): a name is imported from its module when first asked for.

A site's ClientApp process (Flower starts one per message) imports ``fedcare.data``,
``fedcare.analytics`` and ``fedcare.quality`` for one light function each; with their
names lazy it does not pay for pandas or scipy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str], namespace: MutableMapping[str, Any]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``names`` (name -> module)
    are imported on first use and then kept in its ``namespace`` (its ``globals()``)."""

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted([*namespace, *names])

    return __getattr__, __dir__
