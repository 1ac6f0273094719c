"""Typed access to the records inside Flower messages."""

from __future__ import annotations

from typing import cast

import numpy as np
from flwr.app import ConfigRecord, RecordDict

__all__ = ["arrays_of", "config_of", "number", "text"]


def arrays_of(content: RecordDict, key: str = "arrays") -> list[np.ndarray]:
    """The numpy arrays of the ArrayRecord ``key``."""
    return list(content.array_records[key].to_numpy_ndarrays())


def number(content: RecordDict, key: str, record: str = "metrics") -> float:
    """One value of the MetricRecord ``record`` as a float."""
    return float(cast(float, content.metric_records[record][key]))


def config_of(content: RecordDict, key: str = "config") -> ConfigRecord:
    """The ConfigRecord ``key``."""
    return content.config_records[key]


def text(content: RecordDict, key: str, record: str = "site") -> str:
    """One value of the ConfigRecord ``record`` as a string."""
    return str(content.config_records[record][key])
