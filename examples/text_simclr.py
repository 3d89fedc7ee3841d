"""SimCLR on real sentences with synonym-swap + span-crop views, against the untrained encoder.

Training text: the sentences of the Lee background corpus (300 news documents, split into sentences) and
the 150 training sentences of the Pang & Lee polarity set, all shipped in gensim's wheel (no download).
Evaluation, for the trained and the untrained (same seed) BiGRU encoder:

* linear probe accuracy on the labelled polarity sentences (fixed stratified 150/50 split);
* Spearman correlation of cosine similarities with the human similarity ratings of the Lee corpus's
  50 documents (``lee_spearman``).

Usage:
    python examples/text_simclr.py [--epochs 10] [--batch-size 128] [--seed 0]
"""

from __future__ import annotations

import argparse
import re

import torch

import encoders
from encoders.text import Vocabulary
from pairs.data import load_data
from pairs.domains.evaluation import probe_and_knn
from pairs.domains.text import lee_spearman
from pairs.methods import build_method
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer
from pairs.views.text import synonym_crop_view


def sentences(docs: list[str]) -> list[str]:
    """Split documents into sentences of 5 words or more."""
    return [s for d in docs for s in re.split(r"(?<=[.!?])\s+", d) if len(s.split()) >= 5]


def evaluate(encoder, polarity, lee) -> dict[str, float]:
    figures = probe_and_knn(encoder, polarity)
    figures["lee_spearman"] = lee_spearman(encoder, lee.test, lee.info["human_similarity"])
    return {k: round(v, 4) for k, v in figures.items() if k != "probe_C"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/text_simclr")
    args = parser.parse_args()

    polarity, lee = load_data("text:polarity"), load_data("text:lee")
    corpus = sentences(lee.train) + polarity.train
    vocab = Vocabulary.build(corpus + lee.test, min_freq=2)
    print(f"{len(corpus)} training sentences, vocabulary of {len(vocab)} tokens")

    torch.manual_seed(args.seed)
    encoder = encoders.get("text_bigru", vocab=vocab.tokens, max_len=256)
    before = evaluate(encoder, polarity, lee)
    print("untrained:", before)

    method = build_method("simclr", encoder, temperature=0.1)
    view = synonym_crop_view(p=0.2, crop=(0.6, 1.0))
    loader = ViewLoader(corpus, view, n_views=2, batch_size=args.batch_size, seed=args.seed)
    config = TrainConfig(
        epochs=args.epochs, lr=2e-3, weight_decay=1e-4, seed=args.seed, out_dir=args.out, overwrite=True
    )
    Trainer(method, config).fit(loader)
    after = evaluate(encoder, polarity, lee)
    print("trained:  ", after)
    for key in after:
        print(f"{key:>18}: untrained {before[key]:.4f} -> trained {after[key]:.4f}")


if __name__ == "__main__":
    main()
