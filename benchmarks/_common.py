"""Helpers shared by the benchmark scripts (run them as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

__all__ = [
    "HEART_DIR",
    "deid_spans",
    "flamby_protocol",
    "flower_env",
    "fmt",
    "mean_sd",
    "quiet_flower",
    "table",
    "write_json",
]

#: The four UCI heart-disease hospital files next to the checkout.
HEART_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "uci-heart-disease"


def flamby_protocol() -> dict[str, Any]:
    """FLamby's handling of the heart files (complete cases, no missing-value codes, the
    quality findings recorded, not blocking): the data handling the heart benchmarks'
    figures were measured with (``fedcare.study._benchmark.FLAMBY_PROTOCOL``)."""
    flower_env()
    from fedcare.study._benchmark import FLAMBY_PROTOCOL

    return dict(FLAMBY_PROTOCOL)


_DEID_SPANS = """
import json, sys
sys.path.insert(0, sys.argv[1])
from fedcare.deid import deidentify_text
items = json.load(open(sys.argv[2], encoding="utf-8"))
out = [[[s.start, s.end, s.type] for s in deidentify_text(t, lang=l, mode="tag",
        dates="tag").spans] for t, l in items]
json.dump(out, open(sys.argv[3], "w", encoding="utf-8"))
"""


def deid_spans(items: Sequence[tuple[str, str]], src: str | Path | None = None
               ) -> list[list[list[Any]]]:
    """What ``fedcare deid`` (tag mode) replaces in each ``(text, lang)``: ``[start, end,
    type]`` per span.  ``src``: take fedcare from that source folder instead (another
    version, e.g. a ``git worktree``'s ``src``), run in a new process."""
    if src is None:
        from fedcare.deid import deidentify_text

        return [[[s.start, s.end, s.type] for s in deidentify_text(
            text, lang=lang, mode="tag", dates="tag").spans] for text, lang in items]
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.json", Path(tmp) / "out.json"
        inp.write_text(json.dumps([list(i) for i in items]), encoding="utf-8")
        subprocess.run([sys.executable, "-c", _DEID_SPANS, str(Path(src).resolve()), str(inp),
                        str(out)], check=True)
        result: list[list[list[Any]]] = json.loads(out.read_text(encoding="utf-8"))
        return result


def flower_env() -> None:
    """No telemetry, update checks or run-time installs (call before ``flwr`` is imported)."""
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
    os.environ.setdefault("FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION", "1")


def quiet_flower() -> AbstractContextManager[None]:
    """Silence Flower's per-round INFO logging: fedcare's own context manager."""
    from fedcare.federation.engines.inprocess import quiet_flower as quiet

    return quiet()


def mean_sd(values: Iterable[float | None]) -> tuple[float | None, float | None, int]:
    """Mean and sample SD of the defined values, and how many were defined."""
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not xs:
        return None, None, 0
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return statistics.fmean(xs), sd, len(xs)


def fmt(value: float | None, digits: int = 3, signed: bool = False) -> str:
    """A number for a table, ``-`` where undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table, columns padded to their widest cell."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON (NaN becomes null)."""

    def clean(obj: Any) -> Any:
        if hasattr(obj, "item") and hasattr(obj, "dtype") and getattr(obj, "ndim", 1) == 0:
            obj = obj.item()  # numpy scalars
        if hasattr(obj, "tolist") and hasattr(obj, "dtype"):
            obj = obj.tolist()  # numpy arrays
        if isinstance(obj, float) and math.isnan(obj):
            return None
        if isinstance(obj, dict):
            return {str(k): clean(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [clean(v) for v in obj]
        return obj

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(payload), indent=2) + "\n", encoding="utf-8")


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def loopback_federation(root: Path, sites: Sequence[str],
                        node_config: Any = None, state: str = "file") -> Iterator[list[Any]]:
    """A SuperLink (``root/coord``, TLS + node authentication) and one enrolled SuperNode
    per site (``root/<site>``), as ``fedcare coordinator start`` / ``site start`` run them;
    yields the processes (coordinator first) and stops them all on exit.
    ``node_config(site)`` gives a site's node config (default ``{"site": site}``).
    ``state="memory"``: the SuperLink keeps its state in Flower's in-memory store
    (``fedcare coordinator init --state memory``) instead of the SQLite file."""
    from fedcare.federation.engines.deploy import (
        enroll_site,
        init_coordinator,
        init_site,
        start_coordinator,
        start_site,
        stop_process,
    )

    procs: list[Any] = []
    try:
        port = free_port()
        init_coordinator(root / "coord", port=port, state=state)
        procs.append(start_coordinator(root / "coord"))
        for name in sites:
            init_site(root / name, name=name)
            enroll_site(root / "coord", root / name / "node.pub", name=name)
            procs.append(start_site(
                root / name, coordinator_address=f"127.0.0.1:{port}",
                ca_cert=root / "coord" / "ca.pem",
                data_node_config=node_config(name) if node_config else {"site": name},
                clientappio_port=free_port()))
        yield procs
    finally:
        for proc in reversed(procs):
            stop_process(proc)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and everything below it (MB), from ``/proc``."""
    from fedcare.federation.engines.deploy import descendants

    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024
