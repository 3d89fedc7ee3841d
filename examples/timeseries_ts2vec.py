"""TS2Vec on a UCR/UEA set that ships with sktime, step by step, with the TS2Vec classification protocol.

What ``pairs train --data ucr:GunPoint`` does, spelled out with the library's pieces:

1. load the set (published train/test split; labels are only used for evaluation);
2. views: two overlapping random crops of each series (TS2Vec's contextual consistency), after TS2Vec's
   input normalisation (UCR sets as published, UEA channels standardised with the train statistics);
3. encoder: TS2Vec's dilated convolutional encoder, which masks random timestamps while training;
4. method: TS2Vec's hierarchical contrastive loss on the shared timestamps of the two crops;
5. training: batch 8, AdamW lr 1e-3, 200 optimizer steps (TS2Vec's defaults);
6. evaluation: frozen encoder, max-pooled series representations, RBF SVM with C chosen by CV on the train
   split, accuracy on the test split -- printed next to the same protocol on the untrained encoder.

Usage::

    python examples/timeseries_ts2vec.py                      # GunPoint
    python examples/timeseries_ts2vec.py --data BasicMotions --seed 1
    python examples/timeseries_ts2vec.py --list               # the sets that load offline

Reference: Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series", AAAI.
"""

from __future__ import annotations

import argparse
import time

import torch

import encoders
from pairs.data import load_data
from pairs.data.series import available_ucr
from pairs.domains.series import evaluate_series, series_recipe
from pairs.methods import build_method
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="GunPoint", help="a UCR/UEA set name (see --list)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="default: as many as make TS2Vec's 200 steps")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--list", action="store_true", help="list the sets that load offline and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(available_ucr()))
        return
    torch.set_num_threads(args.threads)

    bundle = load_data(f"ucr:{args.data}")  # 1. data
    n, c, t = bundle.train.shape
    print(f"{bundle.info['name']}: {n} train / {len(bundle.test)} test series, {c} channel(s), T={t}")

    recipe = series_recipe(bundle)
    view = recipe.make_view("ts2vec", bundle)  # 2. standardise + overlapping crops
    torch.manual_seed(args.seed)
    encoder = encoders.get("dilated_conv", **recipe.encoder_kwargs(bundle))  # 3. TS2Vec's encoder
    method = build_method("ts2vec", encoder, **recipe.method_kwargs)  # 4. hierarchical contrast

    before = evaluate_series(method.encoder, bundle)  # same architecture and seed, untrained

    epochs = args.epochs or recipe.epochs
    config = TrainConfig(
        epochs=epochs,
        lr=recipe.lr,
        optimizer=recipe.optimizer,
        weight_decay=recipe.weight_decay,
        warmup_epochs=recipe.warmup_epochs,
        min_lr_ratio=recipe.min_lr_ratio,  # TS2Vec: constant learning rate
        seed=args.seed,
        device="cpu",
        progress=False,
    )
    loader = ViewLoader(bundle.train, view, n_views=1, batch_size=recipe.batch_size, seed=args.seed)
    start = time.perf_counter()
    result = Trainer(method, config).fit(loader)  # 5. training
    print(f"trained {result.global_step} steps ({epochs} epochs) in {time.perf_counter() - start:.1f} s")

    after = evaluate_series(method.encoder, bundle)  # 6. TS2Vec's protocol on the frozen encoder
    print(f"{'':<18}{'TS2Vec':>8}{'untrained':>11}")
    for key in ("svm_acc", "linear_probe_acc", "knn_acc"):
        print(f"{key:<18}{after[key]:>8.4f}{before[key]:>11.4f}")


if __name__ == "__main__":
    main()
