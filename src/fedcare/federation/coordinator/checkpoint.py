"""The coordinator's checkpoint: the last round's model and the history, after every round."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from fedcare._io import write_text_atomic
from fedcare.exceptions import FederationError

from ..result import RoundRecord

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint"]

Checkpoint = dict[str, Any]


def save_checkpoint(directory: Path, schema_json: str,
                    standardiser: dict[str, list[float]] | None, history: list[RoundRecord],
                    missing: dict[str, list[int]]) -> Path:
    """Write ``checkpoint.json`` atomically: the last round, its arrays, the history."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {"round": history[-1].round, "arrays": history[-1].arrays,
             "history": [asdict(h) for h in history], "schema": json.loads(schema_json),
             "standardiser": standardiser, "missing_rounds": missing}
    path = directory / "checkpoint.json"
    write_text_atomic(path, json.dumps(state))
    return path


def _same(a: dict[str, list[float]] | None, b: dict[str, list[float]] | None) -> bool:
    """The same standardisation, up to float rounding (sums may add up in another order)."""
    if a is None or b is None:
        return a is b
    return set(a) == set(b) and all(
        len(a[k]) == len(b[k]) and np.allclose(a[k], b[k], rtol=1e-12, atol=1e-12)
        for k in a)


def load_checkpoint(path: str, schema_json: str,
                    standardiser: dict[str, list[float]] | None) -> Checkpoint:
    """Read a checkpoint and check it belongs to this study (same schema, same scaling)."""
    try:
        state = dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError):
        raise FederationError(f"{path}: not a readable fedcare checkpoint") from None
    if state.get("schema") != json.loads(schema_json) or not _same(
            state.get("standardiser"), standardiser):
        raise FederationError(f"{path}: the checkpoint's schema or standardisation differs "
                              "from this study's; it belongs to another study")
    state["history"] = [RoundRecord(**h) for h in state["history"]]
    return state
