"""Ingestion speed of the FHIR, OMOP and CSV connectors on the same SYNTHETIC hospitals.

``scripts/make_fhir_sites.py`` writes SYNTHETIC patients (default 1,000 over 3 sites,
seed 7) to a temporary folder as FHIR R4 NDJSON (Bulk Data style, one folder per site),
FHIR transaction Bundles (one file per patient), OMOP CDM v5.4 CSV tables (also loaded
into a SQLite file, outside the clock) and a flat CSV with per-site units, plus one
mapping file.  Each connector reads its format through that mapping into a Cohort; the
clock covers everything from the files to the validated Cohort (reading, strict
``fhir.resources`` validation of every resource used, code matching, unit conversion,
windows, aggregation, ``cohort_from_frame``).  Median of ``--repeats`` runs.

"records" = FHIR resources (every resource in the files, including types no feature uses,
which are counted but not validated), OMOP table rows, or CSV rows.  The row "validation
only" times ``json.loads`` plus ``fhir.resources`` ``model_validate`` of every Patient,
Observation, Condition and MedicationStatement of the NDJSON set and nothing else: the
floor that strict validation sets.  "equal" compares each cohort with the NDJSON one
(schema, y and site equal, X equal up to the stated largest difference).

Run:  .venv/bin/python benchmarks/fhir_ingest.py [--patients 1000 --repeats 3 --json OUT]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import _common as C

REPO = Path(__file__).resolve().parents[1]


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("make_fhir_sites",
                                                  REPO / "scripts" / "make_fhir_sites.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_fhir_sites"] = module
    spec.loader.exec_module(module)
    return module


def _validate_only(folder: Path) -> int:
    from fhir.resources.R4B import get_fhir_model_class

    n = 0
    for path in sorted(folder.rglob("*.ndjson")):
        if path.stem not in {"Patient", "Observation", "Condition", "MedicationStatement"}:
            continue
        model = get_fhir_model_class(path.stem)
        for line in path.read_text().splitlines():
            model.model_validate(json.loads(line))
            n += 1
    return n


def _time(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="FHIR / OMOP / CSV ingestion speed on SYNTHETIC data.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2,
                        help="processes for the parallel FHIR rows")
    parser.add_argument("--json", metavar="OUT", help="write every figure to this JSON file")
    args = parser.parse_args(argv)

    from fedcare.data import load_mapping, read_fhir, read_mapped_table, read_omop

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fedcare-fhir-bench-") as tmp:
        made = _generator().generate(Path(tmp), patients=args.patients, seed=args.seed)
        db = Path(tmp) / "cdm.db"
        with sqlite3.connect(db) as conn:
            for path in sorted(Path(made["omop"]).glob("*.csv")):
                pd.read_csv(path).to_sql(path.stem, conn, index=False)
        mapping = load_mapping(made["mapping"])
        read_fhir(made["ndjson"], mapping)  # warm-up: imports and model schemas
        runs: list[tuple[str, Callable[[], Any]]] = [
            ("FHIR NDJSON", lambda: read_fhir(made["ndjson"], mapping)),
            (f"FHIR NDJSON, {args.workers} workers",
             lambda: read_fhir(made["ndjson"], mapping, workers=args.workers)),
            ("FHIR Bundles", lambda: read_fhir(made["bundles"], mapping)),
            (f"FHIR Bundles, {args.workers} workers",
             lambda: read_fhir(made["bundles"], mapping, workers=args.workers)),
            ("OMOP CSV", lambda: read_omop(made["omop"], mapping)),
            ("OMOP SQLite", lambda: read_omop(f"sqlite:///{db}", mapping)),
            ("CSV", lambda: read_mapped_table(made["csv"], mapping)),
        ]
        header = ["format", "records", "patients", "cohort rows", "seconds", "records/s",
                  "equal", "max |dX|"]
        rows: list[list[str]] = []
        report: dict[str, Any] = {"patients": args.patients, "seed": args.seed,
                                  "repeats": args.repeats, "formats": {}}
        base = None
        for name, run in runs:
            seconds, result = _time(run, args.repeats)
            cohort = result.cohort
            if base is None:
                base = cohort
            same = (cohort.schema == base.schema and np.array_equal(cohort.y, base.y)
                    and np.array_equal(cohort.site, base.site)
                    and cohort.X.shape == base.X.shape)
            diff = float(np.abs(cohort.X - base.X).max()) if same else float("nan")
            equal = same and diff <= 1e-9
            records = result.report.records
            rows.append([name, f"{records:,}", f"{result.report.patients:,}",
                         f"{len(cohort):,}", f"{seconds:.3f}", f"{records / seconds:,.0f}",
                         "yes" if equal else "NO", f"{diff:.1e}"])
            report["formats"][name] = {"records": records, "patients": result.report.patients,
                                       "cohort_rows": len(cohort), "seconds": seconds,
                                       "records_per_second": records / seconds,
                                       "equal_to_ndjson": equal, "max_abs_dx": diff}
        seconds, validated = _time(lambda: _validate_only(Path(made["ndjson"])), args.repeats)
        rows.append(["FHIR NDJSON: validation only", f"{validated:,}", "", "",
                     f"{seconds:.3f}", f"{validated / seconds:,.0f}", "", ""])
        report["validation_only"] = {"resources": validated, "seconds": seconds,
                                     "resources_per_second": validated / seconds}
    print(f"SYNTHETIC data: {args.patients} patients over 3 sites (seed {args.seed}); "
          f"median of {args.repeats} runs.")
    print(C.table(header, rows))
    print("records: FHIR resources (all types; Encounters are counted, not validated), OMOP "
          "rows of the tables read, CSV rows. equal: same schema, y and site as FHIR NDJSON "
          "and X within 1e-9.")
    total = time.perf_counter() - started
    report["seconds"] = total
    print(f"Total {total:.1f} s.")
    if args.json:
        C.write_json(args.json, report)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
