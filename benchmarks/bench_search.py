"""Search and anomaly figures of a trained digits run, and FAISS's recall@10 against exact search.

Part 1 (issue 17's "Must reach", on sklearn's digits): train ``pairs train --data digits`` (the default
budget; or pass ``--run DIR`` of an existing digits run), then

* ``pairs search`` with the test split as queries against the train split: top-1 label agreement, printed
  next to the run's 1-NN accuracy (cosine kNN with k=1 on the same features); they must be equal;
* ``pairs anomaly`` with one digit class held out of the reference (train split minus that class) and the
  test split scored: ROC-AUC of finding the held-out class, for every class, against the same k-NN score on
  raw pixels (the raw-pixel k-NN baseline).

Part 2: recall@10 of the FAISS HNSW index the library builds (``faiss-cpu``, ``--backend faiss``) against
exact search, and the query time of each (all queries in one batch, median of 3), on real embeddings (the
digits run's train-split features with the test split as queries; then ``--n`` features of augmented views
of the train images, drawn by the run's own view recipe, same queries) and on ``--n`` synthetic clustered
unit vectors of ``--dim`` dimensions (``--queries`` of them as queries).

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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks._common import median_seconds, report, report_ratio  # noqa: E402


def digits_features(run: Path) -> tuple[Any, torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The digits data set, a digits run's encoder, and its features of the train and test splits."""
    import pairs
    from pairs.data import load_data
    from pairs.eval import extract_features

    bundle = load_data("digits")
    encoder = pairs.load_encoder(run)
    return bundle, encoder, extract_features(encoder, bundle.train), extract_features(encoder, bundle.test)


def digits_figures(run: Path) -> None:
    from pairs.eval import knn_accuracy
    from pairs.results import anomaly, search

    bundle, _, train, test = digits_features(run)
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
    report_ratio(
        "anomaly",
        "digits one class held out (mean over 10)",
        mean_ours,
        mean_raw,
        "roc_auc",
        digits=4,
        target=1.0,
        classes_above=wins,
    )


def recall_at_10(name: str, vectors: torch.Tensor, queries: torch.Tensor, repeats: int = 3) -> None:
    """Recall@10 of the FAISS index the library builds (:meth:`EmbeddingIndex.faiss_index`, HNSW) against
    exact search (:meth:`EmbeddingIndex.search`, batched matrix products), and the query time of each
    (median of ``repeats`` passes over every query, one batch; the build is timed once)."""
    from pairs.results.similarity import EmbeddingIndex

    vectors = torch.nn.functional.normalize(vectors.float(), dim=1)
    index = EmbeddingIndex(vectors.numpy(), [str(i) for i in range(len(vectors))], None, {})
    t_exact = median_seconds(lambda: index.search(queries, 10), repeats=repeats, warmup=0)
    _, exact = index.search(queries, 10)
    t0 = time.perf_counter()
    index.faiss_index()
    t_build = time.perf_counter() - t0
    t_faiss = median_seconds(lambda: index.search(queries, 10, backend="faiss"), repeats=repeats, warmup=0)
    _, approx = index.search(queries, 10, backend="faiss")
    hits = sum(len(set(a.tolist()) & set(e.tolist())) for a, e in zip(approx, exact))
    recall = hits / (10 * len(queries))
    n, dim, q = len(vectors), vectors.shape[1], len(queries)
    print(
        f"{name}: {n} x {dim} vectors, {q} queries: FAISS HNSW recall@10 {recall:.4f}; query time exact "
        f"{t_exact * 1e3:.0f} ms ({t_exact / q * 1e6:.0f} us/query), faiss {t_faiss * 1e3:.0f} ms "
        f"({t_faiss / q * 1e6:.0f} us/query; build {t_build:.1f} s)",
        flush=True,
    )
    report(
        "search",
        f"faiss hnsw recall@10, {name} ({n}x{dim})",
        round(recall, 4),
        1.0,
        "recall@10 against exact search",
        recall,
        target=0.95,
        exact_ms=round(t_exact * 1e3, 1),
        faiss_ms=round(t_faiss * 1e3, 1),
        speedup=round(t_exact / t_faiss, 2),
        build_s=round(t_build, 2),
    )


def have_faiss() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        print("faiss-cpu is not installed: pip install faiss-cpu (skipping the FAISS part)")
        return False
    return True


def digits_embeddings(run: Path, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Real embeddings of a digits run: ``(train features, test features, n features of augmented views)``.

    The large set encodes ``n`` views of the train images drawn by the run's own view recipe (seeded): real
    images through the trained encoder, as many as a user's collection would give.
    """
    from pairs.domains import recipe_for
    from pairs.eval import extract_features
    from pairs.pairing import make_views

    bundle, encoder, train, test = digits_features(run)
    view = recipe_for(bundle).make_view(None, bundle)
    g = torch.Generator().manual_seed(seed)
    chunks, done = [], 0
    while done < n:
        (batch,) = make_views(view, bundle.train, 1, g)
        feats = extract_features(encoder, batch[: n - done])
        chunks.append(feats)
        done += len(feats)
    return train, test, torch.cat(chunks)


def faiss_recall(run: Path | None, n: int, dim: int, queries: int, seed: int) -> None:
    """FAISS recall@10 against exact search: on a digits run's features (index = train split, queries = test
    split; then ``n`` embeddings of augmented train images, same queries) and on ``n`` synthetic clustered
    unit vectors of ``dim`` dimensions."""
    if not have_faiss():
        return
    if run is not None:
        train, test, views = digits_embeddings(run, n, seed)
        recall_at_10("digits run, train split", train, test)
        recall_at_10("digits run, augmented views of the train split", views, test)
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(max(2, n // 200), dim, generator=g)
    assign = torch.randint(0, len(centers), (n + queries,), generator=g)
    x = centers[assign] + 0.6 * torch.randn(n + queries, dim, generator=g)
    recall_at_10("synthetic clusters", x[:n], x[n:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="an existing digits run directory (default: train one)")
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument("--n", type=int, default=100_000, help="synthetic collection size for FAISS")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.skip_digits:
        faiss_recall(None, args.n, args.dim, args.queries, args.seed)
    elif args.run:
        digits_figures(Path(args.run))
        faiss_recall(Path(args.run), args.n, args.dim, args.queries, args.seed)
    else:
        from pairs.experiment import train

        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            train("digits", out=str(run), progress=False, evaluate_untrained=False, log=None)
            digits_figures(run)
            faiss_recall(run, args.n, args.dim, args.queries, args.seed)


if __name__ == "__main__":
    main()
