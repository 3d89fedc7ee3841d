"""TS2Vec accuracy on UCR/UEA sets against the paper's published figures (issue 7).

Each run is exactly what ``pairs train --data ucr:NAME --seed S`` does (the series domain's defaults:
TS2Vec views, encoder, method and budget, then TS2Vec's SVM protocol), via :func:`pairs.experiment.train`.
For every set it prints the test accuracy (``svm_acc``) of each seed, the mean and spread, the wall time
of the slowest run (training + evaluation; the bar is 10 minutes on 2 cores), and one RESULT line with
``ratio = mean / bar`` (target 1.0), where the bar is the paper's figure minus one point.

Usage::

    python benchmarks/bench_ts2vec_accuracy.py                   # 5 sets x 3 seeds, 2 threads
    python benchmarks/bench_ts2vec_accuracy.py --quick           # GunPoint, 1 seed
    python benchmarks/bench_ts2vec_accuracy.py --sets GunPoint ArrowHead --seeds 0 1 --threads 1

Seeds are run one after another, all sets per seed, so a partial log already covers every set. No choice
here looks at the test split: the budget and hyper-parameters are TS2Vec's defaults.

Reference figures: Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series" (AAAI),
as quoted by later papers (where two quotations disagree, the higher is used).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks._common import report  # noqa: E402

PAPER = {
    "GunPoint": 0.987,
    "ArrowHead": 0.857,
    "ItalyPowerDemand": 0.960,
    "BasicMotions": 0.975,
    "JapaneseVowels": 0.984,
}
"""TS2Vec's published test accuracy per set; the bar is this minus 0.01."""

TIME_LIMIT = 600.0


def run_one(name: str, seed: int, root: Path) -> dict:
    from pairs.experiment import train

    start = time.perf_counter()
    result = train(
        f"ucr:{name}",
        seed=seed,
        device="cpu",
        out=str(root / f"{name}-{seed}"),
        progress=False,
        evaluate_untrained=False,
        log=None,
    )
    wall = time.perf_counter() - start
    return {
        "set": name,
        "seed": seed,
        "svm_acc": result["svm_acc"],
        "linear_probe_acc": result.get("linear_probe_acc"),
        "knn_acc": result.get("knn_acc"),
        "svm_C": result.get("svm_C"),
        "epochs": result["epochs"],
        "steps": result["steps"],
        "train_seconds": result["train_seconds"],
        "wall_seconds": round(wall, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", nargs="+", default=list(PAPER), choices=list(PAPER))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the bar is for 2 cores)")
    parser.add_argument("--quick", action="store_true", help="GunPoint with seed 0 only")
    parser.add_argument("--log", help="append one JSON line per run to this file")
    args = parser.parse_args()
    sets, seeds = (["GunPoint"], [0]) if args.quick else (args.sets, args.seeds)
    torch.set_num_threads(args.threads)
    print(f"TS2Vec accuracy: sets {sets}, seeds {seeds}, {args.threads} torch threads", flush=True)

    runs: dict[str, list[dict]] = {name: [] for name in sets}
    with tempfile.TemporaryDirectory(prefix="bench_ts2vec_") as tmp:
        for seed in seeds:
            for name in sets:
                record = run_one(name, seed, Path(tmp))
                runs[name].append(record)
                line = json.dumps(record)
                print("RUN " + line, flush=True)
                if args.log:
                    with open(args.log, "a", encoding="utf-8") as f:
                        f.write(line + "\n")

    header = f"{'set':<18}{'paper':>7}{'bar':>7}{'mean':>8}{'std':>7}{'min':>7}{'max':>7}{'slowest s':>11}"
    print(f"\n{header}  seeds")
    for name in sets:
        accs = [r["svm_acc"] for r in runs[name]]
        mean = statistics.fmean(accs)
        std = statistics.pstdev(accs) if len(accs) > 1 else 0.0
        bar = PAPER[name] - 0.01
        slowest = max(r["wall_seconds"] for r in runs[name])
        print(
            f"{name:<18}{PAPER[name]:>7.3f}{bar:>7.3f}{mean:>8.4f}{std:>7.4f}{min(accs):>7.4f}{max(accs):>7.4f}"
            f"{slowest:>11.1f}  {len(accs)}"
        )
        report(
            "ts2vec_accuracy",
            name,
            round(mean, 4),
            PAPER[name],
            "test accuracy",
            mean / bar,
            target=1.0,
            bar=round(bar, 3),
            std=round(std, 4),
            seeds=len(accs),
            accs=[round(a, 4) for a in accs],
            slowest_seconds=slowest,
            time_ok=slowest < TIME_LIMIT,
            threads=args.threads,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
