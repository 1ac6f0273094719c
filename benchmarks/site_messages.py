"""What one message costs a site's ClientApp process, per message type, as Flower runs it.

Flower 1.41 starts a new ``flwr-clientapp`` process for every message a SuperNode gets,
so a site pays its imports and its table read on every message. This script records the
real messages one site receives in a study (run once in-process, serialised with
Flower's own protobuf serde), then answers each one in a fresh interpreter through the
site's ClientApp with its mods (policy, approval, small-cell, audit) and a site folder,
timing, per message type (median of ``--repeat`` runs, interleaved):

- ``bare Flower``: a process that imports ``flwr.clientapp``, reads the same message and
  replies with one float (a bare ClientApp's work): the baseline of the ratios;
- ``cache off``: this checkout with ``FEDCARE_SITE_CACHE=off`` (reads, validates and
  encodes its table on every message, as before the cache);
- ``cache warm``: this checkout, the site's split already in its folder's cache;
- with ``--src OTHER/src``: the other source tree (e.g. a worktree of the commit before).

Two tables: the UCI heart-disease study (Cleveland's 303 rows; Newton, and FedAvg for its
``train``) and a SYNTHETIC one-site table of ``--rows`` rows (what a large hospital's
export costs). Process seconds are wall time from start to exit; ``import`` is the site
app's import; ``answer`` the handler with its mods; RSS the peak resident memory.

Run:  python benchmarks/site_messages.py [--repeat 5] [--rows 200000] [--src OTHER/src]
                                         [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import _common as C

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "scipy", "sklearn", "torch")

_PROBE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
src, kind, message_file, context_file = sys.argv[1:5]
if src:
    sys.path.insert(0, src)
from flwr.app import Context, RecordDict
from flwr.common.serde import message_from_proto
from flwr.proto.message_pb2 import Message as ProtoMessage
if kind == "bare":
    from flwr.app import Message, MetricRecord
else:
    from fedcare.federation.site.app import client_app
t1 = time.perf_counter()
message = message_from_proto(ProtoMessage.FromString(open(message_file, "rb").read()))
ctx = json.loads(open(context_file).read())
context = Context(run_id=1, node_id=1000, node_config=ctx["node_config"],
                  state=RecordDict(), run_config=ctx["run_config"])
if kind == "bare":
    reply = Message(RecordDict({"m": MetricRecord({"x": 1.0})}), reply_to=message)
else:
    reply = client_app(message, context)
    assert not reply.has_error(), reply.error.reason
t2 = time.perf_counter()
hwm = [int(line.split()[1]) for line in open("/proc/self/status")
       if line.startswith("VmHWM:")]  # ru_maxrss would carry the parent's over exec
print(json.dumps({"import": t1 - t0, "answer": t2 - t1,
                  "rss_mb": (hwm[0] if hwm else resource.getrusage(
                      resource.RUSAGE_SELF).ru_maxrss) / 1024,
                  "heavy": [m for m in sys.argv[5].split(",") if m in sys.modules]}))
"""


def _synthetic(rows: int, path: Path, seed: int = 3) -> None:
    """SYNTHETIC: one large site and three small ones; known risk factors."""
    rng = np.random.default_rng(seed)
    sizes = {"big": rows, "s1": 400, "s2": 300, "s3": 200}
    parts = []
    for site, n in sizes.items():
        age = np.round(rng.normal(62, 11, n))
        sbp = np.round(rng.normal(134, 17, n))
        chol = np.round(rng.normal(205, 38, n))
        bmi = np.round(rng.normal(27.5, 4.5, n), 1)
        smoker = (rng.random(n) < 0.25).astype(int)
        sex = rng.choice(["female", "male"], n)
        region = rng.choice(["urban", "rural", "coastal"], n)
        logit = (-4 + 0.04 * (age - 62) + 0.02 * (sbp - 134) + 0.006 * (chol - 205)
                 + 0.7 * smoker + 0.3 * (sex == "male"))
        event = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        parts.append(pd.DataFrame({"site": site, "age": age, "sbp": sbp, "chol": chol,
                                   "bmi": bmi, "smoker": smoker, "sex": sex,
                                   "region": region, "event": event}))
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)


def _record(config: Any, sites: list[str], site: str, root: Path, tag: str
            ) -> list[tuple[str, Path, Path]]:
    """Run the study in-process with site folders; keep the first message of each type
    that ``site`` receives (and the second ``train.newton``: a later round)."""
    from flwr.common.serde import message_to_proto

    from fedcare.federation import InProcessGrid
    from fedcare.federation.coordinator import run_task
    from fedcare.federation.protocol import RunKey
    from fedcare.federation.site import client_app

    nodes: list[dict[str, str | int | float]] = []
    for name in sites:
        folder = root / tag / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "site.toml").write_text("[policy]\n")
        nodes.append({"site": name, "site-config": str(folder / "site.toml")})
    run_config = {**config.to_run_config(), RunKey.NUM_SITES: len(sites),
                  "audit-dir": str(root / tag / "audit")}
    grid = InProcessGrid(client_app, nodes, run_config)
    with C.quiet_flower():
        run_task(grid, grid.server_context())
    node = 1000 + sites.index(site)
    context = root / tag / "context.json"
    context.write_text(json.dumps({"node_config": nodes[sites.index(site)],
                                   "run_config": run_config}))
    seen: dict[str, int] = {}
    kept = []
    for message in grid.messages_sent:
        if message.metadata.dst_node_id != node:
            continue
        kind = message.metadata.message_type
        seen[kind] = seen.get(kind, 0) + 1
        label = kind if seen[kind] == 1 else f"{kind} (round 2)" if (
            kind == "train.newton" and seen[kind] == 2) else None
        if label is None:
            continue
        path = root / tag / f"m{len(kept)}.bin"
        path.write_bytes(message_to_proto(message).SerializeToString())
        kept.append((label, path, context))
    return kept


def _probe(kind: str, src: str, message: Path, context: Path, cache: str
           ) -> dict[str, Any]:
    env = {**os.environ, "FEDCARE_SITE_CACHE": cache, "PYTHONPATH": src or ""}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PROBE, src, kind, str(message),
                           str(context), ",".join(HEAVY)], capture_output=True, text=True,
                          env=env, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"probe failed ({kind}, {message.name}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process"] = wall
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--src", help="also time this source tree (a worktree's src)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    C.flower_env()
    from fedcare.config import StudyConfig
    from fedcare.data._heart import HEART_MISSING_CODES

    here = str(REPO / "src")
    modes = {"bare Flower": ("bare", "", "off"), "cache off": ("site", here, "off"),
             "cache warm": ("site", here, "on")}
    if args.src:
        modes["--src"] = ("site", str(Path(args.src).resolve()), "off")
    out: dict[str, Any] = {"repeat": args.repeat, "rows": args.rows, "tables": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        big = root / "synthetic.csv"
        _synthetic(args.rows, big)
        heart = dict(data="builtin:heart-disease", data_dir=str(C.HEART_DIR),
                     missing="impute", missing_codes=HEART_MISSING_CODES)
        studies = {
            "heart, Cleveland (303 rows)": [
                (StudyConfig(**heart, strategy="newton", rounds=2), "newton"),
                (StudyConfig(**heart, strategy="fedavg", rounds=1), "fedavg")],
            f"SYNTHETIC, one site of {args.rows:,} rows": [
                (StudyConfig(data=str(big), target="event", strategy="newton", rounds=2,
                             categorical=["sex", "region"]), "newton")],
        }
        for title, runs in studies.items():
            site = "cleveland" if title.startswith("heart") else "big"
            sites = (["cleveland", "hungary", "switzerland", "va"] if site == "cleveland"
                     else ["big", "s1", "s2", "s3"])
            messages: list[tuple[str, Path, Path]] = []
            for config, tag in runs:
                recorded = _record(config, sites, site, root, f"{site}-{tag}")
                labels = {m[0] for m in messages}
                messages += [m for m in recorded if m[0] not in labels
                             and (tag == "newton" or m[0] == "train")]
            for _, message, context in messages:  # warm every cache entry once
                _probe("site", here, message, context, "on")
            results: dict[str, dict[str, list[dict[str, Any]]]] = {}
            for _ in range(args.repeat):
                for label, message, context in messages:
                    for mode, (kind, src, cache) in modes.items():
                        results.setdefault(label, {}).setdefault(mode, []).append(
                            _probe(kind, src, message, context, cache))
            rows, figures = [], {}
            for label, by_mode in results.items():
                base = statistics.median(r["process"] for r in by_mode["bare Flower"])
                figures[label] = {}
                for mode, runs_ in by_mode.items():
                    med = {k: statistics.median(r[k] for r in runs_)
                           for k in ("process", "import", "answer", "rss_mb")}
                    med["heavy"] = sorted({h for r in runs_ for h in r["heavy"]})
                    figures[label][mode] = med
                    rows.append([label, mode, f"{med['process']:.2f}",
                                 f"{med['process'] / base:.2f}", f"{med['import']:.2f}",
                                 f"{med['answer']:.3f}", f"{med['rss_mb']:.0f}",
                                 ", ".join(med["heavy"]) or "-"])
            out["tables"][title] = figures
            print(f"\n{title}: one message in a fresh process, median of {args.repeat}\n")
            print(C.table(["message", "site process", "process s", "x bare", "import s",
                           "answer s", "peak RSS MB", "heavy packages"], rows))
    if args.json:
        C.write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
