"""No message a site sends carries a raw feature value of one of its patients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedcare.federation import run_inprocess
from fedcare.study import StudyConfig


@pytest.mark.parametrize("strategy", ["newton", "fedavg", "fedadam"])
def test_replies_hold_no_raw_feature_value(tmp_path: Path, strategy: str,
                                           labs: pd.DataFrame) -> None:
    frame = labs
    path = tmp_path / "labs.csv"
    frame.to_csv(path, index=False)
    raw = set(frame[["creat", "hba1c", "sbp"]].to_numpy().ravel().tolist())
    config = StudyConfig(data=str(path), site_column="site", target="event",
                         strategy=strategy, rounds=3)
    _, grid = run_inprocess(config, ["a", "b", "c"], keep_messages=True)
    checked = 0
    for reply in grid.replies_received:
        values: list[float] = []
        for record in reply.content.array_records.values():
            for array in record.to_numpy_ndarrays():
                values.extend(np.ravel(array).tolist())
        for metrics in reply.content.metric_records.values():
            values.extend(float(v) for v in metrics.values())  # type: ignore[arg-type]
        checked += len(values)
        leaked = [v for v in values if v in raw]
        assert not leaked, f"{reply.metadata.message_type} carries a raw value"
    assert checked > 100
