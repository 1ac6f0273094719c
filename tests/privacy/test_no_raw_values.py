"""No message a site sends carries a raw feature value of one of its patients.

Every record of every reply is scanned: arrays, metrics AND config records (the schema
JSON, texts), numbers inside strings included. A companion test plants a patient's value
into a reply's schema JSON and shows the scanner finds it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flwr.app import ConfigRecord, Context, Message
from flwr.clientapp.typing import ClientAppCallable

from fedcare.federation import run_inprocess
from fedcare.federation.site import client_app
from fedcare.federation.testing import with_mods
from fedcare.study import StudyConfig

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, str):
        return [float(m) for m in _NUMBER.findall(value)]
    if isinstance(value, bytes):
        return []
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return []


def reply_values(reply: Message) -> list[float]:
    """Every number a reply carries, in any record."""
    values: list[float] = []
    if not reply.has_content():
        return values
    for record in reply.content.array_records.values():
        for array in record.to_numpy_ndarrays():
            values.extend(np.ravel(array).tolist())
    for metrics in reply.content.metric_records.values():
        values.extend(x for v in metrics.values() for x in _numbers(v))
    for config in reply.content.config_records.values():
        values.extend(x for v in config.values() for x in _numbers(v))
    return values


def _study(tmp_path: Path, labs: pd.DataFrame, strategy: str) -> tuple[StudyConfig, set[float]]:
    path = tmp_path / "labs.csv"
    labs.to_csv(path, index=False)
    raw = set(labs[["creat", "hba1c", "sbp"]].to_numpy().ravel().tolist())
    return StudyConfig(data=str(path), site_column="site", target="event",
                       strategy=strategy, rounds=3), raw


@pytest.mark.parametrize("strategy", ["newton", "fedavg", "fedadam"])
def test_replies_hold_no_raw_feature_value(tmp_path: Path, strategy: str,
                                           labs: pd.DataFrame) -> None:
    config, raw = _study(tmp_path, labs, strategy)
    _, grid = run_inprocess(config, ["a", "b", "c"], keep_messages=True)
    checked = 0
    kinds: set[str] = set()
    for reply in grid.replies_received:
        values = reply_values(reply)
        checked += len(values)
        kinds.update(reply.content.config_records)
        leaked = [v for v in values if v in raw]
        assert not leaked, f"{reply.metadata.message_type} carries a raw value"
    assert checked > 100 and "site" in kinds  # config records were scanned too


def test_the_scan_finds_a_value_planted_in_the_schema_json(tmp_path: Path,
                                                           labs: pd.DataFrame) -> None:
    config, raw = _study(tmp_path, labs, "newton")
    planted = float(labs.loc[labs["site"] == "a", "creat"].max())

    def leak(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
        reply = call_next(message, context)
        site = reply.content.config_records.get("site")
        if message.metadata.message_type == "query.schema" and site is not None:
            schema = json.loads(str(site["schema"]))
            schema["note"] = f"max creatinine {planted}"
            reply.content["site"] = ConfigRecord({**dict(site), "schema": json.dumps(schema)})
        return reply

    _, grid = run_inprocess(config.to_run_config(), ["a", "b", "c"], keep_messages=True,
                            app=with_mods(client_app, [leak]))
    found = [r.metadata.message_type for r in grid.replies_received
             if any(v in raw for v in reply_values(r))]
    assert "query.schema" in found
