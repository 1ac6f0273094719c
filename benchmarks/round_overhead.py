"""Per-round cost of fedcare's Flower apps against a bare Flower app doing the same arithmetic.

Engine: fedcare's in-process Grid (``fedcare.federation.InProcessGrid``, the embedded
default) for both sides, in the same process, runs interleaved.

ours   ``fedcare.federation.run_inprocess(StudyConfig(builtin:heart-disease, strategy=S))``:
       fedcare's ServerApp logic and ClientApp (each message: run config parsed into a
       StudyConfig, cached site split looked up by config/schema JSON, standardiser
       rebuilt from the message, rows standardised, reply with a site ConfigRecord).
bare   a ClientApp written here on Flower 1.41's Message API, holding the site's
       training/test rows as pre-standardised numpy arrays, driven by Flower's own
       ``flwr.serverapp.strategy.FedAvg().start(...)`` (Newton: a FedAvg subclass whose
       ``aggregate_train`` sums gradients/Hessians and takes the same penalised step).

Same arithmetic per round: FedAvg = 100 mini-batch SGD steps (batch 16, lr 0.05, L2 as
fedcare, same RNG seeds) at each of the 4 hospitals, weighted averaging; Newton = summed
log-loss gradient and Hessian, one penalised Newton step.  After each round both evaluate
the global model at every site with ``fedcare.evaluation.binary_metrics`` plus test
log-loss (the bare app calls the same metric function, so metric arithmetic is equal).

Not in the per-round figures (one-off costs, reported separately for ours): schema
agreement, the federated-standardisation round, and the final per-site evaluations
(global, local-only, personalised).  The bare app has none of these: its data are
loaded and standardised before the clock starts.  Per-round seconds are measured the
same way on both sides: between successive calls of the strategy's ``evaluate_fn``.

Run:  .venv/bin/python benchmarks/round_overhead.py [--rounds 30 --repeats 3 --json OUT]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit

import _common as C

if TYPE_CHECKING:
    from flwr.app import ArrayRecord, Context, Message, MetricRecord
    from flwr.clientapp import ClientApp

LR, STEPS, BATCH, C_L2, SEED = 0.05, 100, 16, 1.0, 0  # fedcare's StudyConfig defaults


# -- the sites' rows, prepared once (not timed) -----------------------------------------
@dataclass
class SiteData:
    name: str
    Z_train: np.ndarray  # standardised features plus a column of ones
    y_train: np.ndarray
    X_test: np.ndarray  # standardised
    y_test: np.ndarray


def load_sites(heart_dir: str) -> dict[str, SiteData]:
    """FLamby's Fed-Heart-Disease rows and split, standardised with the pooled-training
    mean/std (what fedcare's federated standardisation computes from per-site sums)."""
    from fedcare.data import site_split
    from fedcare.study import StudyConfig, load_study_cohort

    config = StudyConfig(data="builtin:heart-disease", data_dir=heart_dir, **C.flamby_protocol())
    cohort = load_study_cohort(config)
    parts = {}
    for name in sorted(cohort.sites):
        site = cohort.for_site(name)
        train, test = site_split(site.y, test_size=config.test_size, seed=config.split_seed)
        parts[name] = (site.X[train], site.y[train], site.X[test], site.y[test])
    X_all = np.concatenate([p[0] for p in parts.values()])
    n = len(X_all)
    mean = X_all.sum(axis=0) / n
    std = np.sqrt(np.maximum((X_all**2).sum(axis=0) / n - mean**2, 0.0))
    std[std < 1e-12] = 1.0
    out = {}
    for name, (Xtr, ytr, Xte, yte) in parts.items():
        Xs = (Xtr - mean) / std
        out[name] = SiteData(name, np.column_stack([Xs, np.ones(len(Xs))]),
                             ytr.astype(np.float64), (Xte - mean) / std, yte)
    return out


# -- the bare Flower apps ---------------------------------------------------------------
def _metrics_reply(message: Message, site: SiteData, p: np.ndarray) -> Message:
    from flwr.app import Message, MetricRecord, RecordDict

    from fedcare.evaluation import binary_metrics

    m = binary_metrics(site.y_test, p)
    eps = 1e-12
    loss = -np.mean(site.y_test * np.log(p + eps) + (1 - site.y_test) * np.log(1 - p + eps))
    record = {k: (float("nan") if v is None else float(v)) for k, v in m.items() if k != "n"}
    record.update({"test-loss": float(loss), "num-examples": len(site.y_test),
                   "n-train": len(site.y_train)})
    return Message(RecordDict({"metrics": MetricRecord(record)}), reply_to=message)


def bare_fedavg_app(sites: dict[str, SiteData]) -> ClientApp:
    """A ClientApp: 100 SGD steps of L2 logistic regression, the metrics of the global model."""
    from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    app = ClientApp()

    @app.train()
    def train(message: Message, context: Context) -> Message:
        site = sites[str(context.node_config["site"])]
        coef, intercept = message.content["arrays"].to_numpy_ndarrays()
        server_round = int(message.content["config"]["server-round"])  # type: ignore[arg-type]
        Z, y = site.Z_train, site.y_train
        n = len(y)
        rng = np.random.default_rng(SEED * 100_003 + server_round * 1_009
                                    + sum(map(ord, site.name)))
        w = np.concatenate([coef, intercept])
        penalty = np.ones_like(w)
        penalty[-1] = 0.0
        reg = 1.0 / (C_L2 * n)
        for _ in range(STEPS):
            idx = rng.choice(n, size=min(BATCH, n), replace=False)
            p = expit(Z[idx] @ w)
            w = w - LR * (Z[idx].T @ (p - y[idx]) / len(idx) + reg * penalty * w)
        return Message(RecordDict({"arrays": ArrayRecord([w[:-1], w[-1:]]),
                                   "metrics": MetricRecord({"num-examples": n})}),
                       reply_to=message)

    @app.evaluate()
    def evaluate(message: Message, context: Context) -> Message:
        site = sites[str(context.node_config["site"])]
        coef, intercept = message.content["arrays"].to_numpy_ndarrays()
        return _metrics_reply(message, site, expit(site.X_test @ coef + intercept[0]))

    return app


def bare_newton_app(sites: dict[str, SiteData]) -> ClientApp:
    """A ClientApp: summed log-loss gradient and Hessian; the metrics of the global model."""
    from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp

    app = ClientApp()

    @app.train()
    def train(message: Message, context: Context) -> Message:
        site = sites[str(context.node_config["site"])]
        (w,) = message.content["arrays"].to_numpy_ndarrays()
        Z, y = site.Z_train, site.y_train
        eta = Z @ w
        p = expit(eta)
        gradient = Z.T @ (p - y)
        hessian = (Z * (p * (1.0 - p))[:, None]).T @ Z
        loss = float(np.sum(np.logaddexp(0.0, eta) - y * eta))
        return Message(RecordDict({"arrays": ArrayRecord([gradient, hessian]),
                                   "metrics": MetricRecord({"num-examples": len(y),
                                                            "train-loss": loss})}),
                       reply_to=message)

    @app.evaluate()
    def evaluate(message: Message, context: Context) -> Message:
        site = sites[str(context.node_config["site"])]
        (w,) = message.content["arrays"].to_numpy_ndarrays()
        return _metrics_reply(message, site, expit(site.X_test @ w[:-1] + w[-1]))

    return app


def bare_newton_strategy(n_sites: int) -> Any:
    """Flower's FedAvg with ``aggregate_train`` replaced by a summed-Newton step."""
    from flwr.app import ArrayRecord, MetricRecord
    from flwr.serverapp.strategy import FedAvg

    class BareNewton(FedAvg):  # type: ignore[misc]
        def configure_train(self, server_round: int, arrays: ArrayRecord, config: Any,
                            grid: Any) -> Any:
            self.weights = arrays.to_numpy_ndarrays()[0]
            return super().configure_train(server_round, arrays, config, grid)

        def aggregate_train(self, server_round: int, replies: Any
                            ) -> tuple[ArrayRecord | None, MetricRecord | None]:
            g = np.zeros_like(self.weights)
            H = np.zeros((len(g), len(g)))
            loss, n = 0.0, 0
            for reply in replies:
                gi, Hi = reply.content["arrays"].to_numpy_ndarrays()
                g, H = g + gi, H + Hi
                loss += float(reply.content["metrics"]["train-loss"])
                n += int(reply.content["metrics"]["num-examples"])
            penalty = np.ones_like(g)
            penalty[-1] = 0.0
            step = np.linalg.solve(C_L2 * H + np.diag(penalty),
                                   C_L2 * g + penalty * self.weights)
            return (ArrayRecord([self.weights - step]),
                    MetricRecord({"train-loss": loss / n, "num-examples": n}))

    return BareNewton(min_train_nodes=n_sites, min_evaluate_nodes=n_sites,
                      min_available_nodes=n_sites)


# -- one timed run of each side ---------------------------------------------------------
def run_bare(strategy: str, sites: dict[str, SiteData], rounds: int) -> dict[str, Any]:
    from flwr.app import ArrayRecord
    from flwr.serverapp.strategy import FedAvg

    from fedcare.federation import InProcessGrid

    n_features = sites[next(iter(sites))].X_test.shape[1]
    names = sorted(sites)
    node_configs: list[dict[str, str | int | float]] = [
        {"site": s, "partition-id": i, "num-partitions": len(names)}
        for i, s in enumerate(names)]
    stamps: list[float] = []

    def tick(server_round: int, arrays: ArrayRecord) -> None:
        stamps.append(time.perf_counter())

    started = time.perf_counter()
    if strategy == "newton":
        app, init = bare_newton_app(sites), [np.zeros(n_features + 1)]
        strat = bare_newton_strategy(len(names))
    else:
        app, init = bare_fedavg_app(sites), [np.zeros(n_features), np.zeros(1)]
        strat = FedAvg(min_train_nodes=len(names), min_evaluate_nodes=len(names),
                       min_available_nodes=len(names))
    grid = InProcessGrid(app, node_configs, {"num-sites": len(names)})
    grid.server_context()  # sets Flower's TaskIdentity for the server side
    with C.quiet_flower():
        result = strat.start(grid=grid, initial_arrays=ArrayRecord(init), num_rounds=rounds,
                             evaluate_fn=tick)
    total = time.perf_counter() - started
    final = np.concatenate([a.ravel() for a in result.arrays.to_numpy_ndarrays()])
    return {"round_seconds": list(np.diff(stamps)), "total_seconds": total, "final": final}


def run_ours(strategy: str, heart_dir: str, names: list[str], rounds: int) -> dict[str, Any]:
    from fedcare.federation import run_inprocess
    from fedcare.study import StudyConfig

    config = StudyConfig(data="builtin:heart-disease", data_dir=heart_dir, **C.flamby_protocol(),
                         strategy=strategy,
                         rounds=rounds)
    started = time.perf_counter()
    result, _ = run_inprocess(config, names)
    total = time.perf_counter() - started
    per_round = [float(e["seconds"]) for e in result["history"]]
    final = np.concatenate([np.ravel(a) for a in result["arrays"]])
    return {"round_seconds": per_round, "total_seconds": total,
            "one_off_seconds": total - sum(per_round), "final": final}


def _q(xs: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(xs), q))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Seconds per round: fedcare's Flower apps vs a bare Flower app doing the "
                    "same arithmetic, both on fedcare's in-process Grid (Fed-Heart-Disease).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", default=str(C.HEART_DIR),
                        help="folder with the four UCI heart-disease files")
    parser.add_argument("--rounds", type=int, default=30, help="rounds per run")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of each variant, interleaved")
    parser.add_argument("--strategies", nargs="+", default=["fedavg", "newton"],
                        choices=["fedavg", "newton"], help="strategies to compare")
    parser.add_argument("--goal", type=float, default=1.2, help="ratio ours/bare to meet")
    parser.add_argument("--json", metavar="OUT", help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    C.flower_env()
    started = time.perf_counter()
    sites = load_sites(args.data)
    names = sorted(sites)
    variants = [(s, side) for s in args.strategies for side in ("ours", "bare")]

    def once(strategy: str, side: str, rounds: int) -> dict[str, Any]:
        gc.collect()
        if side == "ours":
            return run_ours(strategy, args.data, names, rounds)
        return run_bare(strategy, sites, rounds)

    for strategy, side in variants:  # warm-up: imports, caches, first-call costs
        once(strategy, side, 2)
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {v: [] for v in variants}
    for rep in range(args.repeats):  # interleaved, order rotated each repeat
        k = rep % len(variants)
        for v in variants[k:] + variants[:k]:
            runs[v].append(once(*v, args.rounds))

    print(f"Round overhead on fedcare's InProcessGrid, Fed-Heart-Disease ({len(names)} sites: "
          f"{', '.join(f'{s} {len(sites[s].y_train)}' for s in names)} training rows), "
          f"{args.rounds} rounds x {args.repeats} repeats, interleaved")
    header = ["strategy", "app", "median s/round", "p25", "p75", "min", "ratio ours/bare",
              "per-repeat ratios", f"<= {args.goal}?", "one-off s/run", "final |w_ours - w_bare|"]
    rows = []
    report: dict[str, Any] = {"settings": vars(args), "sites": {
        s: {"n_train": len(d.y_train), "n_test": len(d.y_test)} for s, d in sites.items()},
        "strategies": {}}
    for strategy in args.strategies:
        ours = [x for r in runs[(strategy, "ours")] for x in r["round_seconds"]]
        bare = [x for r in runs[(strategy, "bare")] for x in r["round_seconds"]]
        ratio = statistics.median(ours) / statistics.median(bare)
        diff = max(float(np.max(np.abs(a["final"] - b["final"])))
                   for a, b in zip(runs[(strategy, "ours")], runs[(strategy, "bare")],
                                   strict=True))
        one_off = statistics.median(r["one_off_seconds"] for r in runs[(strategy, "ours")])
        paired = [statistics.median(a["round_seconds"]) / statistics.median(b["round_seconds"])
                  for a, b in zip(runs[(strategy, "ours")], runs[(strategy, "bare")],
                                  strict=True)]
        for side, xs in (("ours", ours), ("bare", bare)):
            rows.append([strategy, side, f"{statistics.median(xs) * 1e3:.2f} ms",
                         f"{_q(xs, 0.25) * 1e3:.2f}", f"{_q(xs, 0.75) * 1e3:.2f}",
                         f"{min(xs) * 1e3:.2f}",
                         f"{ratio:.2f}" if side == "ours" else "",
                         f"{min(paired):.2f}-{max(paired):.2f}" if side == "ours" else "",
                         ("yes" if ratio <= args.goal else "NO") if side == "ours" else "",
                         f"{one_off:.3f}" if side == "ours" else "0 (not modelled)",
                         f"{diff:.1e}" if side == "ours" else ""])
        report["strategies"][strategy] = {
            "ratio_median": ratio, "ratio_per_repeat": paired, "goal": args.goal,
            "meets_goal": ratio <= args.goal,
            "final_weights_max_abs_diff": diff,
            "ours": {"median": statistics.median(ours), "p25": _q(ours, 0.25),
                     "p75": _q(ours, 0.75), "min": min(ours), "round_seconds": ours,
                     "one_off_seconds": [r["one_off_seconds"] for r in runs[(strategy, "ours")]],
                     "total_seconds": [r["total_seconds"] for r in runs[(strategy, "ours")]]},
            "bare": {"median": statistics.median(bare), "p25": _q(bare, 0.25),
                     "p75": _q(bare, 0.75), "min": min(bare), "round_seconds": bare,
                     "total_seconds": [r["total_seconds"] for r in runs[(strategy, "bare")]]},
        }
    print(C.table(header, rows))
    print("ratio = median over all rounds of ours / of bare; per-repeat ratios pair each "
          "repeat's runs (spread = timing noise on this machine).\n"
          "Per-round = one training round (4 train messages) plus one evaluation round of the "
          "global model at every site (4 evaluate messages), between evaluate_fn calls.\n"
          "The bare app omits, as one-off costs outside the per-round figures: schema "
          "agreement, the federated-standardisation round (its rows are standardised before "
          "the clock starts) and the final per-site global/local-only/personalised "
          "evaluations; 'one-off s/run' is ours' run total minus its rounds.\n"
          "final |w_ours - w_bare|: largest difference of the final model weights "
          "(same arithmetic -> ~1e-15).")
    seconds = time.perf_counter() - started
    report["seconds"] = seconds
    print(f"Total {seconds:.1f} s.")
    if args.json:
        C.write_json(args.json, report)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
