"""``fedcare benchmark vertical``: PSI throughput and the cost of encrypted training.

PSI: two parties of ``n`` synthetic identifiers each (12-digit numbers through a fixed
bijection; half of them shared), each party an in-process Flower ClientApp reading its
own CSV, the full protocol through messages (normalisation, hashing, two blindings per
identifier, sealed relays, matching). Both parties and the coordinator share this
machine's cores, so each party's throughput (``n / wall``) is what one party gets from
half the machine. Each PSI runs in a fresh process, whose peak resident memory (or its
blinding workers', whichever is larger) is reported. A PSI alone streams identifiers
through the parties' spool folders (:mod:`fedcare.vertical.spool`), overlap only or
(``--psi-revealed``) revealed to the comparing party.

Training: the SUPPORT2 hospital/insurer example (real data, synthetic split and
identifiers; :mod:`fedcare.vertical.examples`), in-hospital death at the hospital. The
encrypted protocol's seconds per epoch beside the same algorithm in plaintext numpy on
the joined table (same rows, same epochs; the median of 5 runs) and scikit-learn's fit
(median of 5), all in this run.
SecureBoost (through the same Flower messages): seconds per tree (the median over trees;
key generation and set-up apart) beside XGBoost's on the same training people, and the
AUC difference from the same histogram GBDT in plaintext (lossless: 0).
"""

from __future__ import annotations

import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fedcare.study._vertical import Party, run_vertical_study
from fedcare.vertical import lr
from fedcare.vertical.examples import load_support2, support2_parties
from fedcare.vertical.party import align_label_party, alignment, read_party

__all__ = ["vertical_benchmark"]


def _peak_mb() -> float:
    """Peak resident memory of this process and its finished children (MB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


_MODULUS = 10 ** 12
_STEP = 614_889_782_588_491  # coprime to 10^12: i -> i * step + 17 mod 10^12 is one-to-one
_WRITE = 500_000


def _write_ids(path: Path, start: int, n: int, seed: int) -> None:
    """``n`` distinct 12-digit identifiers (the numbers ``start .. start + n`` through a
    fixed bijection), written a block at a time and shuffled within each block: the file
    is made without holding ``n`` identifiers in memory."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="ascii") as out:
        out.write("id\n")
        for lo in range(start, start + n, _WRITE):
            block = (np.arange(lo, min(lo + _WRITE, start + n), dtype=object) * _STEP + 17) \
                % _MODULUS
            rng.shuffle(block)
            out.write("".join(f"{v:012d}\n" for v in block))


def _psi_run(n: int, overlap: float, tmp: str, reveal: bool) -> dict[str, Any]:
    """One PSI in this (fresh) process, so that its peak memory is the PSI's own."""
    shared = int(overlap * n)
    a, b = Path(tmp) / f"a{n}.csv", Path(tmp) / f"b{n}.csv"
    _write_ids(a, 0, n, 1)
    _write_ids(b, n - shared, n, 2)  # its first ``shared`` numbers are a's last
    started = time.perf_counter()
    result = run_vertical_study([Party("a", a, "id"), Party("b", b, "id")], train=False,
                                min_overlap=1, reveal=reveal)
    wall = time.perf_counter() - started
    a.unlink()
    b.unlink()
    if result["psi"]["overlap"] != shared:
        raise AssertionError(f"PSI found {result['psi']['overlap']} shared, not {shared}")
    return {"n": n, "overlap": shared, "mode": "revealed" if reveal else "overlap only",
            "wall_seconds": wall, "protocol_seconds": result["psi"]["seconds"],
            "ids_per_second_per_party": n / wall, "peak_rss_mb": _peak_mb()}


def _psi(n: int, overlap: float, tmp: Path, reveal: bool = False) -> dict[str, Any]:
    """A PSI of ``n`` x ``n`` identifiers in a fresh process (its peak memory: that
    process's or its blinding workers', whichever is larger)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_psi_run, n, overlap, str(tmp), reveal).result()


def _support2(data: str | None, tmp: Path) -> list[Party]:
    """The SUPPORT2 hospital and insurer files (in-hospital death at the hospital)."""
    hospital, insurer = support2_parties(load_support2(data), label="hospdead")
    h, i = tmp / "hospital.csv", tmp / "insurer.csv"
    hospital.to_csv(h, index=False)
    insurer.to_csv(i, index=False)
    return [Party("hospital", h, "patient_id", "resident_id", label="hospdead"),
            Party("insurer", i, "member_id", "resident_id")]


def _training(data: str | None, epochs: int, tmp: Path) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    parties = _support2(data, tmp)
    h, i = parties[0].path, parties[1].path
    result = run_vertical_study(parties, epochs=epochs)
    res = result["results"]
    # the same algorithm in plaintext, and scikit-learn, on the joined table, timed here
    ta = read_party(h, "patient_id", name="hospital", kind="resident_id", label="hospdead")
    tb = read_party(i, "member_id", name="insurer", kind="resident_id")
    # the rows the protocol trains on (same split), in the passive party's order
    aligned = align_label_party(ta, alignment(ta, tb), seed="0", fraction=0.25)
    XA, y, use = aligned.X, aligned.y, aligned.train.astype(float)
    m = aligned.train
    plain, fits = [], []  # the median of 5: a millisecond-scale time is noisy
    joined = np.hstack([XA[m, 1:], tb.X[m]])
    for _ in range(5):
        started = time.perf_counter()
        lr.plaintext_reference(XA, tb.X, y, use, epochs=epochs, lam=1e-3)
        plain.append((time.perf_counter() - started) / epochs)
        started = time.perf_counter()
        LogisticRegression(max_iter=2000).fit(joined, y[m])
        fits.append(time.perf_counter() - started)
    plain_epoch, sklearn_fit = float(np.median(plain)), float(np.median(fits))
    encrypted = float(res["joint"]["seconds_per_epoch"])
    return {"rows": {"hospital": ta.n, "insurer": tb.n}, "overlap": result["psi"]["overlap"],
            "epochs": epochs, "encrypted_seconds_per_epoch": encrypted,
            "plaintext_seconds_per_epoch": plain_epoch, "ratio": encrypted / plain_epoch,
            "sklearn_fit_seconds": sklearn_fit,
            "auc": {k: v.get("auc") for k, v in res.items()},
            "calibration_slope": res["joint"].get("calibration_slope"),
            "max_weight_difference": res["plaintext_same_algorithm"]["max_weight_difference"],
            "psi_seconds": result["psi"]["seconds"], "total_seconds": result["seconds"]}


def _trees(data: str | None, n_trees: int, tmp: Path) -> dict[str, Any]:
    """SecureBoost through Flower messages on SUPPORT2 beside XGBoost on the same
    training people (joined table), timed in this run."""
    parties = _support2(data, tmp)
    h, i = parties[0].path, parties[1].path
    trees = {"n_trees": n_trees, "max_depth": 3, "max_bins": 32, "learning_rate": 0.3}
    result = run_vertical_study(parties, model="secureboost", trees=trees)
    res = result["results"]
    out: dict[str, Any] = {
        "overlap": result["psi"]["overlap"], "trees": n_trees, "max_depth": 3, "max_bins": 32,
        "n_train": res["joint"]["n_train"], "n_test": res["joint"]["n_test"],
        "secure_seconds_per_tree": res["joint"]["seconds_per_tree"],
        "message_rounds": res["joint"]["message_rounds"],
        "auc": {k: v.get("auc") for k, v in res.items()},
        "auc_difference_same_algorithm": res["plaintext_same_algorithm"]["auc_difference"],
        "brier_difference_same_algorithm": res["plaintext_same_algorithm"]["brier_difference"],
        "total_seconds": result["seconds"]}
    try:
        from xgboost import XGBClassifier
    except ImportError:  # an optional extra: the benchmark still reports the rest
        out["xgboost_seconds_per_tree"] = None
        return out
    ta = read_party(h, "patient_id", name="hospital", kind="resident_id", label="hospdead")
    tb = read_party(i, "member_id", name="insurer", kind="resident_id")
    aligned = align_label_party(ta, alignment(ta, tb), seed="0", fraction=0.25)
    m = aligned.train
    joined = np.hstack([aligned.X[m, 1:], tb.X[m]])
    times = []
    for _ in range(3):
        started = time.perf_counter()
        XGBClassifier(tree_method="hist", max_bin=32, max_depth=3, n_estimators=n_trees,
                      learning_rate=0.3, reg_lambda=1.0, n_jobs=2).fit(joined, aligned.y[m])
        times.append((time.perf_counter() - started) / n_trees)
    out["xgboost_seconds_per_tree"] = float(np.median(times))
    out["ratio_to_xgboost"] = out["secure_seconds_per_tree"] / out["xgboost_seconds_per_tree"]
    return out


def vertical_benchmark(psi_sizes: Sequence[int] = (100_000, 1_000_000), overlap: float = 0.5,
                       data: str | None = None, epochs: int = 10, trees: int = 5,
                       progress: Callable[[str], None] | None = None,
                       psi_revealed: bool = False) -> dict[str, Any]:
    """PSI at each size in ``psi_sizes`` (overlap only: spooled, memory bounded; with
    ``psi_revealed`` also revealed to the comparing party), then the SUPPORT2
    training comparisons (logistic regression with ``epochs``, SecureBoost with
    ``trees``; 0 skips one)."""
    say = progress or (lambda text: None)
    out: dict[str, Any] = {"psi": [], "cores": __import__("os").cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        for n in psi_sizes:
            for reveal in (False, True) if psi_revealed else (False,):
                say(f"PSI {n:,} x {n:,} ({'revealed' if reveal else 'overlap only'}) ...")
                out["psi"].append(_psi(int(n), overlap, Path(tmp), reveal))
        if epochs:
            say("SUPPORT2 training ...")
            out["training"] = _training(data, epochs, Path(tmp))
        if trees:
            say("SUPPORT2 SecureBoost ...")
            out["trees"] = _trees(data, trees, Path(tmp))
    return out
