"""SimCLR on real unlabelled text with synonym-swap + crop views, against the untrained encoder, over seeds.

Training text (``text:wiki``, all shipped in gensim's wheel, no download): passages of 3 consecutive
sentences from a 206-article Wikipedia extract and from the 300 Lee background news documents, plus the 200
Pang & Lee polarity sentences without their labels. Two views of a passage are the positive pair: each
swaps 20% of its words for WordNet synonyms and keeps a crop of 25-50% of it (mostly different sentences on
one topic, as in DeCLUTR; ``--views crop`` drops the swap); the encoder is the mean of word embeddings
(``text_bow``). Evaluation, for the trained and the untrained (same seed) encoder:

* ``lee_spearman``: Spearman correlation of cosine similarities with the human similarity ratings of the
  Lee corpus's 50 held-out documents;
* ``linear_probe_cv_acc``: linear-probe accuracy on the 200 labelled polarity sentences by 10 x 5-fold
  stratified cross-validation (the probe and its regularisation fit on the training folds only; the encoder
  never sees a label), with the standard error over the 10 repeats.

Usage:
    python examples/text_simclr.py [--epochs 10] [--seeds 0 1 2] [--views synonym_crop] [--encoder text_bow]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import encoders
from encoders.text import Vocabulary
from pairs.data import load_data
from pairs.domains.text import lee_spearman, probe_cv
from pairs.methods import build_method
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer
from pairs.views import text as tv
from pairs.views.base import Compose

ENCODERS = ["text_bow", "text_bigru", "text_transformer"]


def evaluate(encoder: torch.nn.Module, data) -> dict[str, float]:
    """``lee_spearman`` on the 50 rated Lee documents and the cross-validated polarity probe."""
    encoder.eval()
    cv = probe_cv(encoder, data.info["probe_texts"], data.info["probe_labels"], repeats=10)
    return {
        "lee_spearman": lee_spearman(encoder, data.test, data.info["human_similarity"]),
        "probe_cv_acc": cv["acc"],
        "probe_cv_sem": cv["sem"],
    }


def run(data, vocab: Vocabulary, args: argparse.Namespace, seed: int) -> tuple[dict, dict, float]:
    """Train one seed; return the untrained and trained figures and the training seconds."""
    torch.manual_seed(seed)
    encoder = encoders.get(args.encoder, vocab=vocab.tokens, max_len=256)
    before = evaluate(encoder, data)
    method = build_method("simclr", encoder, temperature=args.temperature)
    view = {
        "crop": lambda: tv.SpanCrop((0.25, 0.5)),
        "synonym_crop": lambda: tv.synonym_crop_view(p=0.2, crop=(0.25, 0.5)),
        "dropout_crop": lambda: Compose([tv.SpanCrop((0.25, 0.5)), tv.WordDropout(0.1)]),
    }[args.views]()
    loader = ViewLoader(data.train, view, n_views=2, batch_size=args.batch_size, seed=seed)
    config = TrainConfig(
        epochs=args.epochs, lr=args.lr, weight_decay=1e-4, seed=seed, progress=False, out_dir=None
    )
    start = time.perf_counter()
    Trainer(method, config).fit(loader)
    seconds = time.perf_counter() - start
    return before, evaluate(encoder, data), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--views", default="synonym_crop", choices=["crop", "synonym_crop", "dropout_crop"])
    parser.add_argument(
        "--encoder", default="text_bow", choices=["text_bow", "text_bigru", "text_transformer"]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    data = load_data("text:wiki")
    vocab = Vocabulary.build(data.train, min_freq=2)
    print(f"{len(data.train)} unlabelled training texts, vocabulary of {len(vocab)} tokens, {args.encoder}")
    rows = []
    for seed in args.seeds:
        before, after, seconds = run(data, vocab, args, seed)
        rows.append((before, after))
        print(
            f"seed {seed} ({seconds:.0f} s of training): "
            + ", ".join(f"{k} {before[k]:.3f} -> {after[k]:.3f}" for k in ("lee_spearman", "probe_cv_acc"))
            + f" (probe s.e.m. {after['probe_cv_sem']:.3f})"
        )
    print(f"\n{'figure':>14} | {'untrained':>17} | {'trained':>17}   (mean +- sd over {len(rows)} seeds)")
    for key in ("lee_spearman", "probe_cv_acc"):
        cells = []
        for which in (0, 1):
            values = [row[which][key] for row in rows]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} +- {sd:.3f}")
        print(f"{key:>14} | {cells[0]:>17} | {cells[1]:>17}")


if __name__ == "__main__":
    main()
