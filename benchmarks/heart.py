"""Fed-Heart-Disease, FLamby protocol: fedcare's strategies beside FLamby's published numbers.

Prints a Markdown table (quoted in docs/BENCHMARKS.md). Usage:
    python benchmarks/heart.py [--data DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fedcare.study._benchmark import heart_benchmark

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "datasets" / "uci-heart-disease"


def _f(value: object) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA.resolve())
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    metrics = heart_benchmark(str(args.data), progress=print)
    seconds = time.perf_counter() - started
    ref = metrics["reference"]
    print("\n| setting | mean client acc | FLamby | pooled-test acc | FLamby | pooled-test AUC |"
          " rounds to pooled ±0.005 | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for setting, r in metrics["results"].items():
        pub = ref.get(setting, {})
        strategy = setting.split(":", 1)[1] if setting.startswith("federated:") else None
        print(f"| {setting} | {_f(r['mean_client_accuracy'])} | "
              f"{_f(pub.get('mean_client_accuracy'))} | {_f(r['pooled_test']['accuracy'])} | "
              f"{_f(pub.get('pooled_test_accuracy'))} | {_f(r['pooled_test']['auc'])} | "
              f"{_f(metrics['rounds_to_pooled'].get(strategy)) if strategy else ''} | "
              f"{_f(r.get('seconds'))} |")
    curve = metrics["convergence"]["federated:newton"]
    last = curve[-1]
    print(f"\nNewton: pooled-test accuracy {last['accuracy']:.4f}, AUC {last['auc']:.4f} after "
          f"{last['round']} rounds; per-round seconds (in-process): "
          f"{np.median([c['seconds'] for c in curve]):.4f} (median)")
    print(f"total benchmark time: {seconds:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
