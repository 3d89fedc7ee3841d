"""CPC on a UCR set: latents from non-overlapping patches, a GRU context, a class probe on pooled contexts.

The series (standardised with the train split's statistics) are cut into patches of ``--patch`` timestamps;
TS2Vec's dilated conv encodes each patch to one latent ``z_t`` (patches keep ``z_{t+k}``'s inputs out of
``c_t``'s reach), a GRU gives ``c_t``, and linear predictors guess ``z_{t+1..t+K}``. Evaluation: the series
protocol of ``pairs train --data ucr:NAME`` (linear probe, SVM, 1-NN) on mean-pooled contexts, for the
trained and the untrained model, plus a linear probe on the raw series.

Usage::

    python examples/cpc_timeseries.py --data GunPoint --steps 300

Reference:
    van den Oord, Li & Vinyals 2018, "Representation Learning with Contrastive Predictive Coding".
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time

import torch

import encoders
from pairs.data import load_data
from pairs.domains.series import ChannelStandardizer, evaluate_series
from pairs.eval import linear_probe
from pairs.methods.cpc import CPC
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer
from pairs.views.base import Compose
from pairs.views.temporal import RandomCrop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="GunPoint", help="a UCR/UEA set that loads offline (ucr:NAME)")
    parser.add_argument("--patch", type=int, default=5, help="timestamps per latent")
    parser.add_argument("--k", type=int, default=4, help="future latents predicted")
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--context", default="gru", choices=["gru", "lstm", "transformer"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/cpc_timeseries")
    args = parser.parse_args()

    bundle = load_data(f"ucr:{args.data}")
    x = bundle.train
    print(f"{bundle.spec}: {tuple(x.shape)} train, {tuple(bundle.test.shape)} test")
    torch.manual_seed(args.seed)
    conv = encoders.get("dilated_conv", in_channels=x.shape[1], hidden=32, out_dim=64, depth=3)
    method = CPC(
        conv,
        steps=args.k,
        context=args.context,
        context_dim=64,
        negatives=8,
        patch_len=args.patch,
        seed=args.seed,
    )
    untrained = copy.deepcopy(method.encoder)

    standardizer = ChannelStandardizer.fit(x)
    view = Compose([standardizer, RandomCrop(max(2, int(0.8 * x.shape[-1])))])
    batch = min(args.batch_size, len(x))
    loader = ViewLoader(x, view, n_views=1, batch_size=batch, seed=args.seed)
    epochs = max(1, math.ceil(args.steps / len(loader)))
    config = TrainConfig(
        epochs=epochs, lr=1e-3, optimizer="adamw", weight_decay=0.01, warmup_epochs=0.0, seed=args.seed,
        out_dir=args.out, overwrite=True, progress=False,
    )  # fmt: skip
    start = time.time()
    Trainer(method, config).fit(loader)
    seconds = time.time() - start

    trained = evaluate_series(method.encoder, bundle)
    before = evaluate_series(untrained, bundle)
    raw = linear_probe(
        standardizer(bundle.train).flatten(1), bundle.train_labels, standardizer(bundle.test).flatten(1),
        bundle.test_labels,
    )  # fmt: skip
    results = {
        "cpc_probe_acc": trained["linear_probe_acc"],
        "cpc_svm_acc": trained["svm_acc"],
        "untrained_probe_acc": before["linear_probe_acc"],
        "untrained_svm_acc": before["svm_acc"],
        "raw_probe_acc": float(raw["acc"]),
        **method.step_accuracies(),
        "train_seconds": round(seconds, 1),
        "epochs": epochs,
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
