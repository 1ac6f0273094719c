"""A finished study's run folder: metrics.json and report.html, written all or nothing."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fedcare._io import umask_mode, write_text_atomic

__all__ = ["write_outputs"]


def write_outputs(metrics: dict[str, Any], root: Path, label: str) -> Path:
    """``metrics.json`` and ``report.html`` into a new ``root/<timestamp>-<label>``.

    Both are written into a hidden staging folder that is renamed to the run folder only
    when both are complete (all or nothing); concurrent runs get distinct names.
    Returns the run folder.
    """
    from fedcare.report import write_report

    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    staging = Path(tempfile.mkdtemp(prefix=f".{stamp}-{label}-", dir=root))
    try:
        write_text_atomic(staging / "metrics.json", json.dumps(metrics, indent=2, default=float))
        write_report(metrics, staging / "report.html")
        staging.chmod(umask_mode(0o777))
        for n in range(1, 1000):
            run_dir = root / (f"{stamp}-{label}" + (f"-{n}" if n > 1 else ""))
            try:
                os.rename(staging, run_dir)  # fails if the name exists (another run)
                return run_dir
            except OSError:
                if not run_dir.exists():
                    raise
        raise FileExistsError(f"no free run folder name under {root}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
