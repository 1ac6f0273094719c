"""Latency and throughput of ``fedcare serve`` under load on loopback.

Setup: a 4-site Newton heart-disease study (as ``fedcare demo``), its model registered in
a new SQLite registry, one clinician key; ``fedcare serve`` (uvicorn, one worker) in its
own process; the load generator (httpx, asyncio) in this process on the same 2 cores.
Every request is authenticated, rate-limited, validated and logged to the registry, as
in production; the rate limit is raised so it never triggers here.

Open-loop phases (requests sent on a fixed schedule whatever the replies; latency counted
from the scheduled send time, so a stalled server is not hidden):
  * ``GET /healthz`` (no auth, no model: the baseline of the HTTP stack itself),
  * ``POST /predict`` one patient,
  * ``POST /explain`` one patient (prediction + exact per-feature contributions),
at ``--rate`` requests/s for ``--seconds`` each.
Closed-loop phase: ``POST /predict`` with batches of ``--batch`` patients, one at a time,
reporting predictions/s.  The goal (issue 5): p99 <= 20 ms at 200 requests/s and >= 1,000
predictions/s in batch mode.

Run:  .venv/bin/python benchmarks/serve_load.py [--rate 200 --seconds 20 --batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

import _common as C

PATIENT: dict[str, Any] = {
    "age": 63, "sex": 1, "cp": "4", "trestbps": 145, "chol": 233, "fbs": 1, "restecg": "2",
    "thalach": 150, "exang": 0, "oldpeak": 2.3,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(url: str) -> Iterator[str]:
    """``fedcare serve`` on a free loopback port over the registry ``url`` (rate limit
    raised so that it never triggers); yields its base URL and stops it afterwards."""
    import httpx

    port = _free_port()
    fedcare = Path(sys.executable).parent / "fedcare"
    server = subprocess.Popen(
        [str(fedcare), "serve", "--port", str(port), "--db", url,
         "--rate-limit", "1000000/second"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("fedcare serve did not start")
        yield base
    finally:
        server.terminate()
        server.wait(10)


def _prepare(work: Path) -> tuple[str, str]:
    from fedcare.cli._common import write_outputs
    from fedcare.registry import Registry
    from fedcare.study import StudyConfig, run_study

    data_dir = str(C.HEART_DIR) if C.HEART_DIR.is_dir() else ""
    with C.quiet_flower():
        metrics = run_study(StudyConfig(data="builtin:heart-disease", data_dir=data_dir,
                                         **C.flamby_protocol())).to_dict()
    run = write_outputs(metrics, work / "runs", "heart-newton")
    url = f"sqlite:///{work / 'registry.db'}"
    registry = Registry(url)
    registry.register(run)
    _, key = registry.create_api_key("load-generator", "clinician")
    registry.close()
    return url, key


async def _open_loop(client: Any, method: str, path: str, body: Any, rate: float,
                     seconds: float, headers: dict[str, str]) -> dict[str, Any]:
    n = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        nonlocal errors
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        response = await client.request(method, path, json=body, headers=headers)
        latencies.append(time.perf_counter() - scheduled)
        if response.status_code != 200:
            errors += 1

    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {"requests": n, "errors": errors, "rate_sent": n / (n / rate),
            "throughput": n / elapsed, "p50": float(np.percentile(ms, 50)),
            "p90": float(np.percentile(ms, 90)), "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max())}


async def _batches(client: Any, path: str, batch: int, repeats: int,
                   headers: dict[str, str]) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    patients = [{**PATIENT, "age": int(a), "chol": int(c)}
                for a, c in zip(rng.integers(30, 80, batch), rng.integers(150, 400, batch),
                                strict=True)]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = await client.post(path, json={"patients": patients}, headers=headers)
        times.append(time.perf_counter() - t0)
        body = r.json()
        assert r.status_code == 200
        assert len(body.get("predictions", body.get("explanations", []))) == batch
    med = float(np.median(times))
    return {"batch": batch, "repeats": repeats, "median_s": med,
            "predictions_per_s": batch / med}


async def _run(base: str, key: str, rate: float, seconds: float, batch: int
               ) -> dict[str, Any]:
    import httpx

    headers = {"X-API-Key": key}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for _ in range(50):  # warm up every route (SHAP/numba-free paths, model cache)
            await client.post("/v1/models/1/predict", json={"patient": PATIENT}, headers=headers)
            await client.post("/v1/models/1/explain", json={"patient": PATIENT}, headers=headers)
        out = {
            "healthz": await _open_loop(client, "GET", "/healthz", None, rate, seconds, {}),
            "predict": await _open_loop(client, "POST", "/v1/models/1/predict",
                                        {"patient": PATIENT}, rate, seconds, headers),
            "explain": await _open_loop(client, "POST", "/v1/models/1/explain",
                                        {"patient": PATIENT}, rate, seconds, headers),
        }
        out["batch_predict"] = await _batches(client, "/v1/models/1/predict", batch, 10,
                                              headers)
        out["batch_explain"] = await _batches(client, "/v1/models/1/explain", batch, 5,
                                              headers)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    C.flower_env()
    import logging

    logging.getLogger("fedcare").setLevel(logging.ERROR)  # the study's data-quality notes
    with tempfile.TemporaryDirectory() as tmp:
        url, key = _prepare(Path(tmp))
        with served(url) as base:
            results = asyncio.run(_run(base, key, args.rate, args.seconds, args.batch))
    rows = []
    for name in ("healthz", "predict", "explain"):
        r = results[name]
        rows.append([name, f"{args.rate:.0f}", str(r["requests"]), str(r["errors"]),
                     f"{r['throughput']:.1f}", f"{r['p50']:.2f}", f"{r['p90']:.2f}",
                     f"{r['p99']:.2f}", f"{r['max']:.1f}"])
    print(f"Open loop, {args.seconds:.0f} s per route, one uvicorn worker, load generator on "
          f"the same {os.cpu_count()} cores")
    print(C.table(["route", "rate sent /s", "requests", "non-200", "done /s", "p50 ms",
                   "p90 ms", "p99 ms", "max ms"], rows))
    h, p, e = results["healthz"], results["predict"], results["explain"]
    print(f"p99 ratio to /healthz (same run): predict {p['p99'] / h['p99']:.2f}x, explain "
          f"{e['p99'] / h['p99']:.2f}x; p50 ratio: predict {p['p50'] / h['p50']:.2f}x, "
          f"explain {e['p50'] / h['p50']:.2f}x")
    print()
    print(C.table(["batch route", "patients/request", "median s", "patients/s"], [
        [name, str(results[name]["batch"]), f"{results[name]['median_s']:.3f}",
         f"{results[name]['predictions_per_s']:.0f}"]
        for name in ("batch_predict", "batch_explain")]))
    if args.json:
        C.write_json(args.json, results)


if __name__ == "__main__":
    main()
