"""What a site knows from Flower's Context: the study's settings as it applies them,
its name, its site config (units, policy), its state across messages."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, cast

from flwr.app import Context, MetricRecord

from fedcare.config import StudyConfig
from fedcare.data._study import study_site_names

from ..protocol import RunKey
from .data import config_key

__all__ = ["NODE_DATA_KEYS", "SITE_CONFIG_KEY", "load_state", "save_state", "settings",
           "site_name"]

NODE_DATA_KEYS = ("data", "data-dir", "images")
"""Node-config keys by which a site names its own table, and in an image study its own
image folder (they override the run's)."""

SITE_CONFIG_KEY = "site-config"
"""Node-config key naming the site's ``site.toml`` (policy, units)."""

_STATE = "fedcare"


@lru_cache(maxsize=16)
def _settings(items: tuple[tuple[str, Any], ...]) -> tuple[StudyConfig, str]:
    config = StudyConfig.from_run_config(dict(items))
    return config, config_key(config)


def settings(context: Context) -> tuple[StudyConfig, str]:
    """The study's settings as this site applies them, and their cache key.

    In a deployment each site reads its own table: ``node_config`` may name it with
    ``data`` (a CSV/Parquet path, or ``builtin:heart-disease``) and ``data-dir``; in an
    image study ``data`` is its labels table and ``images`` its DICOM folder.
    """
    items = dict(context.run_config)
    for key in NODE_DATA_KEYS:
        if key in context.node_config:
            items[key] = context.node_config[key]
    return _settings(tuple(sorted(items.items())))


def site_name(context: Context, config: StudyConfig) -> str:
    """This node's site: ``node_config['site']``, else the ``partition-id``-th site of
    the table (sorted as a study sorts them; naturally for analytics)."""
    if "site" in context.node_config:
        return str(context.node_config["site"])
    index = int(cast(int, context.node_config["partition-id"]))
    if str(context.run_config.get(RunKey.TASK, "study")) == "analytics":
        from fedcare.analytics import natural

        from .analytics import site_table

        frame = site_table(config.data, config.data_dir, config.site_column)
        names = sorted({str(v) for v in frame[config.site_column].dropna()}, key=natural)
        return names[index]
    return study_site_names(config)[index]


def load_state(context: Context) -> dict[str, int]:
    """The site's counters across the messages of one run (e.g. DP-SGD steps)."""
    record = context.state.metric_records.get(_STATE)
    return {} if record is None else {k: int(cast(int, v)) for k, v in record.items()}


def save_state(context: Context, state: Mapping[str, int]) -> None:
    """Keep the counters for the next message of the run."""
    if state:
        context.state[_STATE] = MetricRecord(dict(state))
