"""Search and anomaly figures of a trained digits run, and FAISS's recall@10 against exact search.

Part 1 (issue 17's "Must reach", on sklearn's digits): train ``pairs train --data digits`` (the default
budget; or pass ``--run DIR`` of an existing digits run), then

* ``pairs search`` with the test split as queries against the train split: top-1 label agreement, printed
  next to the run's 1-NN accuracy (cosine kNN with k=1 on the same features); they must be equal;
* ``pairs anomaly`` with one digit class held out of the reference (train split minus that class) and the
  test split scored: ROC-AUC of finding the held-out class, for every class, against the same k-NN score on
  raw pixels (the raw-pixel k-NN baseline).

Part 2: exact search vs FAISS HNSW (``faiss-cpu``) on a synthetic collection of ``--n`` clustered unit
vectors: recall@10 of FAISS against exact search and the query time of each.

Prints a table and RESULT lines (``benchmarks/run.py`` collects them).

Usage::

    python benchmarks/bench_search.py                       # trains a digits run first (a few minutes)
    python benchmarks/bench_search.py --run runs/digits     # an existing digits run
    python benchmarks/bench_search.py --skip-digits --n 200000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks._common import report  # noqa: E402


def digits_figures(run: Path) -> None:
    import pairs
    from pairs.data import load_data
    from pairs.eval import extract_features, knn_accuracy
    from pairs.results import anomaly, search

    bundle = load_data("digits")
    encoder = pairs.load_encoder(run)
    train = extract_features(encoder, bundle.train)
    test = extract_features(encoder, bundle.test)
    one_nn = knn_accuracy(train, bundle.train_labels, test, bundle.test_labels, k=1)
    found = search(run, "digits", "digits", k=10, index_split="train", query_split="test")
    top1 = found["top1_label_agreement"]
    print(f"digits: search top-1 label agreement {top1:.4f}   run's 1-NN accuracy {one_nn:.4f}")
    report("search", "digits top1 == 1-NN", top1, one_nn, "acc", 1.0 if top1 == one_nn else 0.0, target=1.0)
    ours, raw = [], []
    print("held-out class  ROC-AUC (encoder)  ROC-AUC (raw pixels)")
    for c in range(10):
        r = anomaly(run, "digits", "digits", anomaly_labels=[c], raw_baseline=True)
        ours.append(r["roc_auc"])
        raw.append(r["raw_roc_auc"])
        print(f"{c:>14}  {r['roc_auc']:.4f}             {r['raw_roc_auc']:.4f}")
    mean_ours, mean_raw = statistics.mean(ours), statistics.mean(raw)
    wins = sum(o > b for o, b in zip(ours, raw))
    print(f"mean over classes: encoder {mean_ours:.4f}, raw pixels {mean_raw:.4f} ({wins}/10 classes above)")
    report(
        "anomaly",
        "digits one class held out (mean over 10)",
        round(mean_ours, 4),
        round(mean_raw, 4),
        "roc_auc",
        mean_ours / mean_raw,
        target=1.0,
        classes_above=wins,
    )


def faiss_recall(n: int, dim: int, queries: int, seed: int) -> None:
    from pairs.results.similarity import EmbeddingIndex

    try:
        import faiss  # noqa: F401
    except ImportError:
        print("faiss-cpu is not installed: pip install faiss-cpu (skipping the FAISS part)")
        return
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(max(2, n // 200), dim, generator=g)
    assign = torch.randint(0, len(centers), (n + queries,), generator=g)
    x = centers[assign] + 0.6 * torch.randn(n + queries, dim, generator=g)
    x = torch.nn.functional.normalize(x, dim=1)
    index = EmbeddingIndex(x[:n].numpy(), [str(i) for i in range(n)], None, {})
    q = x[n:]
    t0 = time.perf_counter()
    _, exact = index.search(q, 10)
    t_exact = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.faiss_index()
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, approx = index.search(q, 10, backend="faiss")
    t_faiss = time.perf_counter() - t0
    hits = sum(len(set(a.tolist()) & set(e.tolist())) for a, e in zip(approx, exact))
    recall = hits / (10 * len(q))
    print(
        f"{n} x {dim} vectors, {len(q)} queries: FAISS HNSW recall@10 {recall:.4f}; query time exact "
        f"{t_exact * 1e3:.0f} ms, faiss {t_faiss * 1e3:.0f} ms (+ {t_build:.1f} s to build)"
    )
    report(
        "search",
        f"faiss hnsw recall@10 ({n}x{dim})",
        round(recall, 4),
        1.0,
        "recall",
        recall,
        target=0.95,
        exact_ms=round(t_exact * 1e3, 1),
        faiss_ms=round(t_faiss * 1e3, 1),
        build_s=round(t_build, 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="an existing digits run directory (default: train one)")
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument("--n", type=int, default=100_000, help="synthetic collection size for FAISS")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.skip_digits:
        if args.run:
            digits_figures(Path(args.run))
        else:
            from pairs.experiment import train

            with tempfile.TemporaryDirectory() as tmp:
                train(
                    "digits", out=str(Path(tmp) / "run"), progress=False, evaluate_untrained=False, log=None
                )
                digits_figures(Path(tmp) / "run")
    faiss_recall(args.n, args.dim, args.queries, args.seed)


if __name__ == "__main__":
    main()
