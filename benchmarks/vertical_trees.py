"""Vertical gradient-boosted trees: SecureBoost under sf-heu's OU against its plaintext
algorithm and XGBoost, seconds per tree and held-out AUC.

Data sets
---------
synthetic  **Synthetic** (made up from a seed, no real people): 10,000 rows, 10 active +
           10 passive standard-normal features (5% of one passive column missing); the
           label is Bernoulli(sigmoid(z)) with z made of linear, step and sine terms of
           four features of each party, so both parties' features matter.
support2   SUPPORT2 in-hospital death (``hospdead``): ``support2_parties`` splits the
           real table into a hospital (active: the label and 24 clinical features) and
           an insurer (passive: age, sex, race, income, education) with synthetic ids;
           the two tables are aligned on ``normalise_one(id, "resident_id")`` (the
           people at both). Text columns are integer-coded (sorted categories, missing
           kept missing).

Rows are split 75/25 (stratified, seed 0). Each party bins its own training rows
(``bin_features``, 32 bins) and its test rows with its own edges.

Methods (same run, same machine)
--------------------------------
secure   ``fit_secure``: OU 2048-bit (sf-heu), one ActiveParty/PassiveParty pair; time
         from the first message to the model, so it includes the passive party loading
         the public key, encrypting, serialising, homomorphic bucket sums and
         decrypting. Key generation (once per key pair, reusable) is shown apart.
plain    ``fit_plain``: the same algorithm in plaintext (the lossless reference).
xgboost  ``XGBClassifier(tree_method="hist", max_bin=32, max_depth=3, n_estimators=5,
         learning_rate=0.3, reg_lambda=1.0, n_jobs=2)`` on the joined raw features
         (its fit time includes building its DMatrix and quantile sketch).

Seconds per tree = fit wall time / 5 (median of ``--repeats`` fits for plain and
xgboost, ``--secure-repeats`` for secure). "x xgb" is secure (or plain) over xgboost.
"cpu s/tree" is the process's CPU time (all its threads: xgboost uses 2, sf-heu's pool
here 1) over 5, less sensitive to other processes on a loaded machine.
"max |s-p|" is the largest absolute difference of the secure and plain test
probabilities. Wall-clock times depend on the machine and its load (printed).

Run:  .venv/bin/python benchmarks/vertical_trees.py [--repeats 3 --json OUT]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import _common as C

PARAMS_KW: dict[str, Any] = {"n_trees": 5, "max_depth": 3, "learning_rate": 0.3,
                             "reg_lambda": 1.0, "min_child_weight": 1.0, "max_bins": 32}


def synthetic(n: int = 10_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic (made-up) data: 10 active and 10 passive features, a logistic label."""
    rng = np.random.default_rng(seed)
    Xa, Xb = rng.normal(size=(n, 10)), rng.normal(size=(n, 10))
    z = (0.8 * Xa[:, 0] - 0.6 * Xa[:, 1] + 1.0 * (Xa[:, 2] > 0.5) + 0.7 * np.sin(2 * Xa[:, 3])
         + 0.8 * Xb[:, 0] + 0.6 * Xb[:, 1] - 1.0 * (np.abs(Xb[:, 2]) > 1)
         + 0.7 * np.cos(2 * Xb[:, 3]) - 0.3)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    Xb[rng.random(n) < 0.05, 4] = np.nan
    return Xa, Xb, y


def _numeric(frame: pd.DataFrame) -> np.ndarray:
    """Numbers as they are; text columns as sorted category codes (missing stays NaN)."""
    cols = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col):
            cols.append(pd.to_numeric(col, errors="coerce").to_numpy(dtype=float))
        else:
            codes, _ = pd.factorize(col, sort=True)
            cols.append(np.where(codes < 0, np.nan, codes).astype(float))
    return np.column_stack(cols)


def support2() -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """SUPPORT2 hospital (active) and insurer (passive), aligned by normalised id."""
    from fedcare.vertical.examples import load_support2, support2_parties
    from fedcare.vertical.ids import normalise_one

    hospital, insurer = support2_parties(load_support2(), label="hospdead")
    hospital = hospital[hospital["hospdead"].notna()]
    h_key = [normalise_one(v, "resident_id") for v in hospital["patient_id"]]
    i_key = [normalise_one(v, "resident_id") for v in insurer["member_id"]]
    h_index = {k: i for i, k in enumerate(h_key) if k is not None}
    i_index = {k: i for i, k in enumerate(i_key) if k is not None}
    shared = sorted(set(h_index) & set(i_index))
    h_rows = [h_index[k] for k in shared]
    i_rows = [i_index[k] for k in shared]
    hosp = hospital.iloc[h_rows].reset_index(drop=True)
    ins = insurer.iloc[i_rows].reset_index(drop=True)
    y = hosp["hospdead"].to_numpy(dtype=int)
    Xa = _numeric(hosp.drop(columns=["patient_id", "hospdead"]))
    Xb = _numeric(ins.drop(columns=["member_id"]))
    info = {"hospital_rows": len(hospital), "insurer_rows": len(insurer),
            "aligned": len(shared), "unmatched_ids": sum(k is None for k in i_key)}
    return Xa, Xb, y, info


def _median_fit(fit: Any, repeats: int) -> tuple[float, float, Any]:
    """Median wall and CPU seconds (all threads of this process) of ``repeats`` fits."""
    walls, cpus, model = [], [], None
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        model = fit()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), model


def run_dataset(name: str, Xa: np.ndarray, Xb: np.ndarray, y: np.ndarray,
                keys: Any, args: argparse.Namespace) -> dict[str, Any]:
    import xgboost

    from fedcare.vertical import secureboost as sb

    params = sb.TreeParams(**PARAMS_KW)
    idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=0.25,
                                           stratify=y, random_state=0)
    active = sb.ActiveParty.from_features(Xa[idx_train], y[idx_train], params.max_bins,
                                          keys=keys)
    test_a = active.transform(Xa[idx_test])

    def fit_secure() -> Any:
        # a fresh passive party each time: it loads the public key inside the timing
        passive = sb.PassiveParty.from_features(Xb[idx_train], params.max_bins)
        return sb.fit_secure(active, passive, params), passive

    t_secure, c_secure, (secure, passive) = _median_fit(fit_secure, args.secure_repeats)
    test_b = passive.transform(Xb[idx_test])
    t_plain, c_plain, plain = _median_fit(
        lambda: sb.fit_plain(active.codes, passive.codes, y[idx_train], params), args.repeats)
    X_joined = np.hstack([Xa, Xb])

    def fit_xgb() -> Any:
        model = xgboost.XGBClassifier(tree_method="hist", max_bin=32, max_depth=3,
                                      n_estimators=5, learning_rate=0.3, reg_lambda=1.0,
                                      n_jobs=2)
        return model.fit(X_joined[idx_train], y[idx_train])

    t_xgb, c_xgb, xgb = _median_fit(fit_xgb, args.repeats)
    y_test = y[idx_test]
    p_secure = secure.predict_proba(test_a, test_b)[:, 1]
    p_plain = plain.predict_proba(test_a, test_b)[:, 1]
    p_xgb = xgb.predict_proba(X_joined[idx_test])[:, 1]
    n_trees = params.n_trees
    return {
        "dataset": name, "n_train": len(idx_train), "n_test": len(idx_test),
        "d_active": Xa.shape[1], "d_passive": Xb.shape[1],
        "s_per_tree": {"secure": t_secure / n_trees, "plain": t_plain / n_trees,
                       "xgboost": t_xgb / n_trees},
        "cpu_s_per_tree": {"secure": c_secure / n_trees, "plain": c_plain / n_trees,
                           "xgboost": c_xgb / n_trees},
        "auc": {"secure": roc_auc_score(y_test, p_secure),
                "plain": roc_auc_score(y_test, p_plain),
                "xgboost": roc_auc_score(y_test, p_xgb)},
        "max_abs_secure_minus_plain": float(np.abs(p_secure - p_plain).max()),
        "secure_stats": secure.stats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3,
                        help="fits of plain and xgboost (median)")
    parser.add_argument("--secure-repeats", type=int, default=1)
    parser.add_argument("--no-support2", action="store_true")
    parser.add_argument("--json", help="write the figures here as JSON")
    args = parser.parse_args(argv)

    from fedcare.vertical import secureboost as sb

    load = os.getloadavg()
    start = time.perf_counter()
    keys = sb.HeKeyPair.generate(sb.KEY_SIZE)
    keygen = time.perf_counter() - start
    results = [run_dataset("synthetic", *synthetic(), keys, args)]
    if not args.no_support2:
        try:
            Xa, Xb, y, info = support2()
        except Exception as exc:  # report it, go on with the synthetic data
            print(f"SUPPORT2 skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        else:
            print(f"SUPPORT2 aligned: {info}")
            results.append(run_dataset("support2", Xa, Xb, y, keys, args))

    rows = []
    for r in results:
        t, c, auc = r["s_per_tree"], r["cpu_s_per_tree"], r["auc"]
        for method in ("secure", "plain", "xgboost"):
            rows.append([
                r["dataset"] if method == "secure" else "",
                f"{r['n_train']}/{r['n_test']}" if method == "secure" else "",
                f"{r['d_active']}+{r['d_passive']}" if method == "secure" else "",
                method, C.fmt(t[method], 4), C.fmt(t[method] / t["xgboost"], 1),
                C.fmt(c[method], 4), C.fmt(c[method] / c["xgboost"], 1),
                C.fmt(auc[method], 4),
                f"{r['max_abs_secure_minus_plain']:.1e}" if method == "secure" else ""])
    print(C.table(["data", "train/test", "features", "method", "s/tree", "x xgb",
                   "cpu s/tree", "x xgb cpu", "AUC", "max |s-p|"], rows))
    print()
    detail = []
    for r in results:
        s, n = r["secure_stats"], PARAMS_KW["n_trees"]
        accounted = sum(s.get(k, 0.0) for k in ("active_encrypt_s", "passive_load_s",
                                                  "passive_histograms_s", "active_decrypt_s",
                                                  "passive_key_setup_s"))
        detail.append([r["dataset"], C.fmt(s.get("passive_key_setup_s", 0.0), 2),
                       C.fmt(s.get("active_encrypt_s", 0.0) / n, 3),
                       C.fmt(s.get("passive_histograms_s", 0.0) / n, 3),
                       C.fmt(s.get("active_decrypt_s", 0.0) / n, 3),
                       C.fmt((s["total_s"] - accounted) / n, 3),
                       f"{s.get('encryptions', 0) / n:.0f}", f"{s.get('decryptions', 0) / n:.0f}",
                       f"{s.get('bytes_to_passive', 0) / n / 1e6:.2f}",
                       f"{s.get('bytes_to_active', 0) / n / 1e6:.2f}"])
    print("secure, per tree (key setup once per fit):")
    print(C.table(["data", "key setup s", "encrypt s", "HE sums s", "decrypt s", "other s",
                   "enc", "dec", "MB to passive", "MB to active"], detail))
    print(f"\nOU {sb.KEY_SIZE}-bit ({keys.schema}) key generation: {keygen:.2f} s (once, "
          f"reusable); CPUs: {os.cpu_count()}; load average at start: "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if args.json:
        C.write_json(args.json, {"results": results, "keygen_s": keygen,
                                 "load_average": list(load), "params": PARAMS_KW})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
