"""Latency of the health-management assistant (``POST /v1/assess``) on loopback.

Setup: the Framingham teaching table's federated model (``fedcare assistant validate``,
4 synthetic sites) registered in a new SQLite registry, so every assessment also scores
a fedcare model beside the five equations; one clinician key; ``fedcare serve`` (uvicorn,
one worker) in its own process; the load generator (httpx, asyncio) in this process on the
same cores.  Every request is authenticated, rate-limited, validated and logged.

Open-loop phases at ``--rate`` requests/s for ``--seconds`` each (latency from the
scheduled send time), in the same run:
  * ``GET /healthz`` (the HTTP stack alone: the baseline),
  * ``POST /v1/models/1/predict`` (the registered model alone),
  * ``POST /v1/assess`` without a person (scores, tier, what-if, plan),
  * ``POST /v1/assess`` with a person ID (also reads the previous assessment, adapts the
    plan and stores the new one; 200 people, each assessed repeatedly).
Profiles vary (age, blood pressure, cholesterol, smoking) from a fixed seed.

Run:  .venv/bin/python benchmarks/assess_load.py [--rate 50 --seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import _common as C
from serve_load import _open_loop, served


def _profiles(n: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        out.append({"age": int(rng.integers(40, 75)), "sex": str(rng.choice(["female", "male"])),
                    "race": "other", "systolic_bp": int(rng.integers(105, 175)),
                    "bp_treated": bool(rng.random() < 0.3),
                    "total_cholesterol": {"value": round(float(rng.uniform(3.8, 7.0)), 2),
                                          "unit": "mmol/L"},
                    "hdl_cholesterol": {"value": round(float(rng.uniform(0.9, 1.8)), 2),
                                        "unit": "mmol/L"},
                    "smoker": bool(rng.random() < 0.3), "diabetes": bool(rng.random() < 0.1),
                    "bmi": round(float(rng.uniform(19, 33)), 1),
                    "waist_cm": int(rng.integers(70, 105)), "egfr": int(rng.integers(60, 110)),
                    "statin": False, "family_history_diabetes": "none",
                    "physically_active": bool(rng.random() < 0.5), "daily_fruit_veg": True,
                    "bp_medication": False, "high_glucose_history": False,
                    "salt_g_per_day": round(float(rng.uniform(4, 12)), 1)})
    return out


async def _phase(client: Any, path: str, bodies: list[Any], rate: float, seconds: float,
                 headers: dict[str, str]) -> dict[str, Any]:
    """``_open_loop`` with a different body per request (cycled)."""
    counter = {"i": 0}

    class Cycle:
        def __init__(self) -> None:
            self.client = client

        async def request(self, method: str, url: str, json: Any = None,
                          headers: dict[str, str] | None = None) -> Any:
            body = bodies[counter["i"] % len(bodies)]
            counter["i"] += 1
            return await client.request(method, url, json=body, headers=headers)

    return await _open_loop(Cycle(), "POST", path, None, rate, seconds, headers)


async def _run(base: str, key: str, rate: float, seconds: float) -> dict[str, Any]:
    import httpx

    headers = {"X-API-Key": key}
    profiles = _profiles(500)
    predict = [{"patient": {k: p[k] for k in ("age", "sex", "systolic_bp", "bp_treated",
                                             "smoker", "diabetes", "bmi")}
                | {"total_cholesterol": p["total_cholesterol"]}} for p in profiles]
    for body in predict:  # the model's binary inputs as 0/1
        for k in ("bp_treated", "smoker", "diabetes"):
            body["patient"][k] = int(body["patient"][k])
    assess = [{"profile": p} for p in profiles]
    people = [{"profile": p, "person_id": f"bench-{i % 200:04d}"}
              for i, p in enumerate(profiles)]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for i in range(30):  # warm up every route
            r = await client.post("/v1/assess", json=assess[i], headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["models"][0].get("risk") is not None, r.json()["models"]
            r = await client.post("/v1/models/1/predict", json=predict[i], headers=headers)
            assert r.status_code == 200, r.text
        return {
            "healthz": await _open_loop(client, "GET", "/healthz", None, rate, seconds, {}),
            "predict": await _phase(client, "/v1/models/1/predict", predict, rate, seconds,
                                    headers),
            "assess": await _phase(client, "/v1/assess", assess, rate, seconds, headers),
            "assess_person": await _phase(client, "/v1/assess", people, rate, seconds,
                                          headers),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    C.flower_env()
    logging.getLogger("fedcare").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        from fedcare.registry import Registry
        from fedcare.study._assistant import run_assistant_validation

        url = f"sqlite:///{Path(tmp) / 'registry.db'}"
        with C.quiet_flower():
            run_assistant_validation(Path(tmp) / "validation", registry_url=url)
        registry = Registry(url)
        _, key = registry.create_api_key("load-generator", "clinician")
        registry.close()
        with served(url) as base:
            results = asyncio.run(_run(base, key, args.rate, args.seconds))
    rows = []
    for name in ("healthz", "predict", "assess", "assess_person"):
        r = results[name]
        rows.append([name, f"{args.rate:.0f}", str(r["requests"]), str(r["errors"]),
                     f"{r['throughput']:.1f}", f"{r['p50']:.2f}", f"{r['p90']:.2f}",
                     f"{r['p99']:.2f}", f"{r['max']:.1f}"])
    print(f"Open loop, {args.seconds:.0f} s per route, one uvicorn worker, load generator on "
          f"the same {os.cpu_count()} cores")
    print(C.table(["route", "rate sent /s", "requests", "non-200", "done /s", "p50 ms",
                   "p90 ms", "p99 ms", "max ms"], rows))
    h = results["healthz"]
    print("p50 / p99 ratio to /healthz (same run): " + "; ".join(
        f"{n} {results[n]['p50'] / h['p50']:.1f}x / {results[n]['p99'] / h['p99']:.1f}x"
        for n in ("predict", "assess", "assess_person")))
    if args.json:
        C.write_json(args.json, results)


if __name__ == "__main__":
    main()
