"""Wall time of `fedcare demo` end to end (a fresh process each time, install excluded).

Usage: python benchmarks/demo_time.py [--repeats 3] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "datasets" / "uci-heart-disease"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA.resolve())
    args = parser.parse_args()
    fedcare = Path(sys.executable).parent / "fedcare"
    times = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            subprocess.run([str(fedcare), "demo", "--data", str(args.data), "--out", out],
                           check=True, capture_output=True, env=dict(os.environ))
            times.append(time.perf_counter() - started)
    print(f"| command | cores | runs | median s | min s | max s |\n|---|---|---|---|---|---|\n"
          f"| fedcare demo | {os.cpu_count()} | {len(times)} | {statistics.median(times):.2f} | "
          f"{min(times):.2f} | {max(times):.2f} |")


if __name__ == "__main__":
    main()
