"""A site's Cox rounds from its design matrix, cached in the site's own folder.

A federated Cox fit asks every site for the centring sums (``step = "means"``) and then
for its Newton contribution at each ``beta`` (``step = "eval"``), one message each, and
Flower starts a new ClientApp process for every message. The first message that needs the
design matrix (the covariates of the site's complete rows, with survival time and event)
builds it from the table with pandas (:mod:`.analytics`) and stores it as
``<site folder>/cache/cox/<key>.npz``; the later ones load it with numpy alone, without
importing pandas or reading the table again. The key holds the SHA-256 of the table's
bytes, the site, its site column, the request, the agreed levels and the missing-value
codes: a changed file or request is read afresh. A damaged cache file is ignored (and
rewritten). ``FEDCARE_SITE_CACHE=off`` turns it off, as for the study split. Every figure
a site sends is computed by the same functions as without the cache, with the same
small-cell threshold; the site's mods (policy, approval, audit) wrap either path alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fedcare._io import write_bytes_atomic
from fedcare.analytics import site_cox_risk_sets, site_cox_stratum, site_means
from fedcare.exceptions import ConfigError

from ..protocol import ConfigKey, TaskResult
from .data import merge_codes, table_digest
from .request import SiteRequest

__all__ = ["cached_design", "cox_answer", "design_path", "save_design"]

_FORMAT = "cox-design-1"
"""Part of every key: a new layout of the cached arrays gets new files."""

Design = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def design_path(req: SiteRequest) -> Path | None:
    """Where this site's design matrix for the request is cached (None: not on disk)."""
    if req.cache is None:
        return None
    table = table_digest(req.config)
    if table is None:
        return None
    codes = merge_codes(req.config.missing_codes, {k: list(v) for k, v in req.missing})
    parts = json.dumps([_FORMAT, table, req.config.site_column, req.name,
                        str(req.cfg[ConfigKey.REQUEST]), str(req.cfg.get(ConfigKey.LEVELS, "{}")),
                        codes], sort_keys=True)
    return Path(req.cache) / "cox" / f"{hashlib.sha256(parts.encode()).hexdigest()}.npz"


def cached_design(req: SiteRequest) -> Design | None:
    """The design matrix, times and events from the site's cache, or None."""
    path = design_path(req)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return (np.asarray(arrays["x"], dtype=np.float64),
                    np.asarray(arrays["t"], dtype=np.float64),
                    np.asarray(arrays["e"], dtype=np.float64))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # damaged: built again from the table and rewritten


def save_design(req: SiteRequest, design: Design) -> None:
    """Store the design in the site's cache (nothing when the cache is off; a read-only
    site folder: nothing, the same answers)."""
    path = design_path(req)
    if path is None:
        return
    buffer = io.BytesIO()
    np.savez(buffer, x=design[0], t=design[1], e=design[2])
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, buffer.getvalue())


def cox_answer(req: SiteRequest, design: Design) -> TaskResult:
    """The centring sums (``step = "means"``) or the site's Newton contribution at the
    coordinator's ``beta`` (``step = "eval"``), from the design matrix."""
    step = str(req.cfg.get(ConfigKey.STEP, ""))
    request: dict[str, Any] = json.loads(str(req.cfg[ConfigKey.REQUEST]))
    k = req.config.min_cell
    x, t, e = design
    if step == "means":
        return TaskResult(dict(site_means(x, min_cell=k)))
    if step != "eval":
        raise ConfigError(f"query.cox: unknown step {step!r}")
    arrays = req.named
    if request["stratified"]:
        msg = site_cox_stratum(x, t, e, arrays["beta"], offset=arrays["offset"],
                               ties=request["ties"], min_cell=k)
    else:
        msg = site_cox_risk_sets(x, t, e, arrays["grid"], arrays["beta"],
                                 offset=arrays["offset"], ties=request["ties"])
    return TaskResult(dict(msg))
