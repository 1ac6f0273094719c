"""Score the import against an EHR-shaped FHIR set and OMOP extracts written blind.

The data (``blind_exports/`` beside this script, or ``--data``) were written by someone
who had not seen fedcare's connectors, from the FHIR R4 and OMOP CDM v5.4 specifications
and a list of real-export quirks, with hand-computed expected values per patient
(``expected_*.csv``), the patients who died before the index date (``excluded.csv``) and
the records that must be left out (``bad_records.csv``).  The mappings were written from
``DICTIONARY.md`` alone.  SYNTHETIC data: no real patient.

Prints, per extract, the cells and patients with a wrong value, per column, and the
quarantine counts.  ``--before`` uses the mappings the pre-change format could read (no
coded answers, no condition status, no time zones): run it with the old code on
PYTHONPATH to get the "before" column.

    python benchmarks/blind_exports.py [--data DIR] [--before] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
COLUMNS = ["age", "sex", "chol", "hba1c", "sbp", "creat", "smoking", "diabetes", "statin",
           "cad"]
EXTRACTS = [("fhir", "fhir", "expected_fhir.csv"), ("omop", "omop", "expected_omop.csv"),
            ("omop_eras", "omop", "expected_omop_eras.csv")]


def _same(got: object, want: object) -> bool:
    g_missing = bool(pd.isna(got)) or got == ""  # type: ignore[call-overload]
    w_missing = bool(pd.isna(want)) or want == ""  # type: ignore[call-overload]
    if g_missing or w_missing:
        return g_missing and w_missing
    try:
        # expected values are rounded to 0.01, and mmol/L -> mg/dL used 38.67 where the
        # molar mass of cholesterol (386.65 g/mol) gives 38.665: 0.1 % relative tolerance
        return abs(float(got) - float(want)) <= max(0.011, 0.001 * abs(float(want)))
    except (TypeError, ValueError):
        return str(got).strip().lower() == str(want).strip().lower()


def score(data: Path, before: bool) -> dict[str, object]:
    from fedcare.data import load_mapping, read_fhir, read_omop

    out: dict[str, object] = {}
    excluded = pd.read_csv(data / "excluded.csv", dtype=str)
    bad = pd.read_csv(data / "bad_records.csv", dtype=str)
    for name, kind, expected_file in EXTRACTS:
        mapping_file = HERE / "blind_exports_mappings" / (
            f"mapping_{kind}{'_before' if before else ''}.toml")
        want = pd.read_csv(data / expected_file, dtype=str).set_index("patient_id")
        row: dict[str, object] = {"patients expected": len(want)}
        try:
            mapping = load_mapping(mapping_file)
            result = (read_fhir(data / name, mapping) if kind == "fhir"
                      else read_omop(data / name, mapping))
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            out[name] = row
            continue
        frame = result.frame.copy()
        frame.index = frame.index.astype(str)
        dead = set(excluded.loc[excluded["extract"] == name, "patient_id"])
        row["died before index, still in output"] = len(dead & set(frame.index))
        row["patients missing from output"] = len(set(want.index) - set(frame.index))
        wrong_cells: dict[str, int] = {}
        wrong_patients: set[str] = set()
        details = []
        for pid, expected in want.iterrows():
            if pid not in frame.index:
                wrong_patients.add(str(pid))
                continue
            got = frame.loc[pid]
            for column in COLUMNS:
                if column not in frame.columns:
                    wrong_cells[column] = wrong_cells.get(column, 0) + 1
                    wrong_patients.add(str(pid))
                    continue
                if not _same(got[column], expected[column]):
                    wrong_cells[column] = wrong_cells.get(column, 0) + 1
                    wrong_patients.add(str(pid))
                    details.append(f"{pid} {column}: got {got[column]!r}, want "
                                   f"{expected[column]!r}")
        row["wrong cells"] = sum(wrong_cells.values())
        row["wrong cells by column"] = wrong_cells
        row["patients with any wrong value"] = len(wrong_patients)
        row["details"] = details
        report = result.report
        row["quarantined"] = dict(getattr(report, "quarantined", {}) or {})
        mine = bad[bad["file"].str.startswith(name + "/")]
        row["bad records expected"] = int(mine["kind"].isin(["invalid", "no-unit"]).sum())
        row["entered-in-error expected"] = int((mine["kind"] == "entered-in-error").sum())
        row["entered-in-error excluded"] = sum(
            n for reason, n in report.excluded.items() if "entered-in-error" in reason)
        row["conversions"] = getattr(report, "conversions", report.converted)
        out[name] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=HERE / "blind_exports")
    parser.add_argument("--before", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    try:
        result = score(args.data, args.before)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    label = "before" if args.before else "after"
    print(f"{'extract':<10} {'patients':>8} {'wrong cells':>11} {'patients wrong':>14}  "
          f"({label})")
    for name, row in result.items():
        assert isinstance(row, dict)
        if "error" in row:
            print(f"{name:<10} {row['patients expected']:>8}  import failed: {row['error']}")
            continue
        print(f"{name:<10} {row['patients expected']:>8} {row['wrong cells']:>11} "
              f"{row['patients with any wrong value']:>14}  by column "
              f"{row['wrong cells by column']}; died before index but kept "
              f"{row['died before index, still in output']}; quarantined "
              f"{sum(row['quarantined'].values())} of {row['bad records expected']} expected; "
              f"entered-in-error left out {row['entered-in-error excluded']} of "
              f"{row['entered-in-error expected']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
