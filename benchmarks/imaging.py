"""Image studies: per-site AUC local / federated / pooled, times, ingestion throughput.

**Synthetic images.** The four-site study is generated (``fedcare.imaging.SITES``:
hospital-d is the small site, 40 slices), once per data seed; the ingestion throughput is
also measured on the real DICOM files that ship with pydicom (no labels).

    python benchmarks/imaging.py                 # 3 data seeds, 10 FedAvg rounds
    python benchmarks/imaging.py --seeds 1 --rounds 5

Prints three tables (quoted in docs/BENCHMARKS.md): per-site AUC per setting (mean and
range over seeds), the small site's gain, and times (ingestion slices/s, a local epoch,
a federated round) on this machine's CPU (a GPU is not used by this script).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--dp-epsilon", type=float, nargs="*", default=[],
                        help="Also run data seed 0 with record-level DP-SGD at these "
                             "epsilons (delta 1e-5, clipping norm 1) and print its AUCs.")
    args = parser.parse_args()

    import pydicom

    from fedcare.config import StudyConfig
    from fedcare.imaging import (
        CNNClassifier,
        read_image_cohort,
        scan_dicom_folder,
        write_synthetic_study,
    )
    from fedcare.study import run_study

    auc: dict[str, dict[str, list[float | None]]] = {}
    n_test: dict[str, object] = {}
    times: dict[str, list[float]] = {"ingest slices/s": [], "federated s/round": [],
                                     "pooled fit s": [], "epoch s (320 slices)": []}
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            labels = write_synthetic_study(tmp, seed=seed)
            images = Path(tmp) / "images"
            cohort = read_image_cohort(images, labels)
            times["ingest slices/s"].append(len(cohort.y) / cohort.seconds)
            big = cohort.of_site("hospital-a")
            model = CNNClassifier(epochs=1).fit(big.flat(), big.y)
            t0 = time.perf_counter()
            model.local_update(big.flat(), big.y, steps=int(np.ceil(len(big.y) / 32)),
                               batch_size=32)
            times["epoch s (320 slices)"].append(time.perf_counter() - t0)
            config = StudyConfig(data=str(labels), images=str(images), model="cnn",
                                 standardise="none", strategy="fedavg", rounds=args.rounds,
                                 local_steps=20, lr=0.003, batch_size=32, target="label",
                                 seed=seed, split_seed=43 + seed)
            metrics = run_study(config).to_dict()
            n_test.update({s: info.get("n_test") for s, info in metrics["sites"].items()})
            for setting, result in metrics["results"].items():
                name = setting.split(":")[0]
                for site, m in result["per_site"].items():
                    auc.setdefault(site, {}).setdefault(name, []).append(m.get("auc"))
                if name == "federated":
                    times["federated s/round"].append(result["seconds"] / args.rounds)
                if name == "pooled":
                    times["pooled fit s"].append(result["seconds"])
            print(f"seed {seed}: done", flush=True)

    settings = ["local", "federated", "personalised", "pooled"]
    print(f"\nPer-site test AUC (SYNTHETIC slices), mean [min-max] over {args.seeds} seed(s), "
          f"FedAvg {args.rounds} rounds x 20 local steps")
    print("| site | test slices | " + " | ".join(settings) + " |")
    print("|---|---|" + "---|" * len(settings))
    for site in sorted(auc):
        cells = []
        for s in settings:
            values = [v for v in auc[site].get(s, []) if v is not None]
            cells.append(f"{np.mean(values):.3f} [{min(values):.3f}-{max(values):.3f}]"
                         if values else "withheld")
        print(f"| {site} | {n_test.get(site, '?')} | " + " | ".join(cells) + " |")
    small = auc.get("hospital-d", {})
    local = [v for v in small.get("local", []) if v is not None]
    fed = [v for v in small.get("federated", []) if v is not None]
    if local and fed:
        print(f"\nSmall site (hospital-d, 40 slices): local {np.mean(local):.3f} -> federated "
              f"{np.mean(fed):.3f} (gain {np.mean(fed) - np.mean(local):+.3f} AUC, "
              f"{100 * (np.mean(fed) / np.mean(local) - 1):+.0f} %)")

    if args.dp_epsilon:
        print(f"\nRecord-level DP-SGD (opacus per-example gradients), data seed 0, FedAvg "
              f"{args.rounds} rounds x 20 steps: per-site test AUC (epsilon spent, max "
              "over sites)")
        print("| epsilon | " + " | ".join(sorted(auc)) + " | epsilon spent |")
        print("|---|" + "---|" * (len(auc) + 1))
        with tempfile.TemporaryDirectory() as tmp:
            labels = write_synthetic_study(tmp, seed=0)
            for epsilon in args.dp_epsilon:
                config = StudyConfig(data=str(labels), images=str(Path(tmp) / "images"),
                                     model="cnn", standardise="none", strategy="fedavg",
                                     rounds=args.rounds, local_steps=20, lr=0.003,
                                     batch_size=32, target="label", split_seed=43,
                                     dp_epsilon=epsilon, dp_max_grad_norm=1.0)
                metrics = run_study(config, pooled=False).to_dict()
                fed = next(v for k, v in metrics["results"].items()
                           if k.startswith("federated"))
                spent = max((fed.get("privacy") or {}).get("epsilon_spent", {}).values(),
                            default=0.0) or 0.0
                cells = [f"{fed['per_site'][s]['auc']:.3f}"
                         if fed["per_site"].get(s, {}).get("auc") is not None
                         else "withheld" for s in sorted(auc)]
                print(f"| {epsilon:g} | " + " | ".join(cells) + f" | {spent:.2f} |",
                      flush=True)

    folder = Path(pydicom.__file__).parent / "data" / "test_files"
    scan_dicom_folder(folder)  # warm-up: MONAI's first import
    files, usable, findings, seconds = scan_dicom_folder(folder)
    print(f"\npydicom's own DICOM files: {files} files, {usable} usable slices, "
          f"{files / seconds:.0f} files/s; findings: "
          + ", ".join(f"{f.kind} {f.count}" for f in findings))
    print("\n| time (2-core CPU) | mean | min | max |\n|---|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {np.mean(values):.2f} | {min(values):.2f} | {max(values):.2f} |")


if __name__ == "__main__":
    main()
