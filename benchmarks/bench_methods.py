"""Every method on sklearn's digits with the same budget: linear probe, kNN, s/epoch, peak memory.

Each method runs ``pairs.experiment.train`` (the code behind ``pairs train --method NAME``) in its own
subprocess, with the digits recipe's views, encoder and budget (40 epochs, batch 256, AdamW) unless
``--epochs`` is given. Columns:

* ``probe`` / ``knn``: linear-probe and cosine kNN (k=20) accuracy of the frozen encoder on the held-out
  split (``pairs.domains.evaluation.probe_and_knn``); the ``untrained`` row is the same encoder at its
  random initialisation (same seed).
* ``s/epoch``: training wall time divided by the number of epochs (checkpointing and logging included).
* ``peak MiB``: the subprocess's peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``),
  which includes the interpreter and torch (~300 MiB on its own); no tracemalloc, so no slowdown.
* ``eff. rank``: effective rank of the method's embeddings at the last monitored step (collapse check).

Each method also prints a RESULT line: ``ours`` = its probe accuracy, ``anchor`` = the untrained encoder's,
target ratio > 1 (the method must beat the untrained encoder).

Usage::

    python benchmarks/bench_methods.py                 # every method, default budget
    python benchmarks/bench_methods.py --methods byol simsiam --epochs 10
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import report  # noqa: E402

# the methods (domain-agnostic); domain-specific ones (ts2vec, graphcl, grace) are not run on images
METHODS = (
    "simclr", "mocov2", "mocov3", "byol", "simsiam", "barlow_twins", "vicreg", "swav", "dino", "supcon",
    "clip", "siamese", "triplet",
)  # fmt: skip


def worker(method: str, epochs: int | None, seed: int) -> None:
    """Train one method and print one JSON line with its figures."""
    from pairs.experiment import train

    with tempfile.TemporaryDirectory() as tmp:
        out = train(
            "digits", method=method, epochs=epochs, seed=seed, out=f"{tmp}/run", progress=False, log=None
        )
        rank = None
        for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines():
            record = json.loads(line)
            if "effective_rank" in record:
                rank = record["effective_rank"]
    out["effective_rank"] = rank
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("WORKER " + json.dumps(out, default=str), flush=True)


def run_one(method: str, epochs: int | None, seed: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method, "--seed", str(seed)]
    if epochs is not None:
        cmd += ["--epochs", str(epochs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
    for line in proc.stdout.splitlines():
        if line.startswith("WORKER "):
            return json.loads(line[len("WORKER ") :])
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="*", help="methods to run (default: all)")
    parser.add_argument("--epochs", type=int, default=None, help="budget (default: the digits recipe's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="5 epochs (smoke run)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    epochs = 5 if args.quick and args.epochs is None else args.epochs
    if args.worker:
        worker(args.worker, epochs, args.seed)
        return

    methods = args.methods or list(METHODS)
    rows, untrained = [], None
    for name in methods:
        r = run_one(name, epochs, args.seed)
        rows.append((name, r))
        if "error" in r:
            print(f"{name}: FAILED: {r['error']}", flush=True)
            continue
        untrained = untrained or r
        print(
            f"{name}: probe {r['linear_probe_acc']:.4f} (untrained {r['linear_probe_acc_untrained']:.4f}) "
            f"knn {r['knn_acc']:.4f}  {r['train_seconds'] / r['epochs']:.2f} s/epoch  "
            f"{r['peak_mib']:.0f} MiB  eff.rank {r['effective_rank']}",
            flush=True,
        )
        report(
            "methods",
            f"{name} digits probe vs untrained",
            r["linear_probe_acc"],
            r["linear_probe_acc_untrained"],
            "acc",
            r["linear_probe_acc"] / r["linear_probe_acc_untrained"],
            target=1.0,
            knn=r["knn_acc"],
            s_per_epoch=round(r["train_seconds"] / r["epochs"], 3),
            peak_mib=round(r["peak_mib"]),
            effective_rank=r["effective_rank"],
        )

    print()
    print(f"{'method':<14}{'probe':>8}{'knn':>8}{'s/epoch':>9}{'peak MiB':>10}{'eff. rank':>11}")
    if untrained is not None:
        print(
            f"{'untrained':<14}{untrained['linear_probe_acc_untrained']:>8.4f}"
            f"{untrained['knn_acc_untrained']:>8.4f}{'-':>9}{'-':>10}{'-':>11}"
        )
    for name, r in rows:
        if "error" in r:
            print(f"{name:<14}  failed: {r['error'][:80]}")
            continue
        rank = "-" if r["effective_rank"] is None else f"{r['effective_rank']:.1f}"
        print(
            f"{name:<14}{r['linear_probe_acc']:>8.4f}{r['knn_acc']:>8.4f}"
            f"{r['train_seconds'] / r['epochs']:>9.2f}{r['peak_mib']:>10.0f}{rank:>11}"
        )
    epochs_used = next((r["epochs"] for _, r in rows if "epochs" in r), epochs)
    print(f"(digits, {epochs_used} epochs, seed {args.seed}; peak MiB = subprocess max RSS incl. torch)")


if __name__ == "__main__":
    main()
