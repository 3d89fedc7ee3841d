"""What ``image_simclr.py`` and ``audio_simclr.py`` share: train SimCLR by hand on one data set and print
the linear-probe and kNN accuracy of the trained encoder beside the same network untrained."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch

from pairs.data import load_data
from pairs.eval import effective_rank, extract_features, knn_accuracy, linear_probe
from pairs.methods import SimCLR
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer


def evaluate(encoder: torch.nn.Module, bundle: Any, k: int) -> dict[str, float]:
    """Linear-probe and ``k``-NN accuracy on the held-out split, and the effective rank of its features."""
    train = extract_features(encoder, bundle.train)
    test = extract_features(encoder, bundle.test)
    probe = linear_probe(train, bundle.train_labels, test, bundle.test_labels)
    return {
        "linear_probe_acc": probe["acc"],
        "knn_acc": knn_accuracy(train, bundle.train_labels, test, bundle.test_labels, k=k),
        "effective_rank": effective_rank(test),
    }


def run_simclr(
    description: str,
    data: str,
    encoder: Callable[[Any], torch.nn.Module],
    view: Callable[[Any], Any],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    k: int,
) -> None:
    """Parse ``--epochs --seed --device``, load ``data`` (a data error ends the script with its message),
    train SimCLR (temperature 0.2) on ``encoder(bundle)`` with views ``view(bundle)`` and print the figures
    of :func:`evaluate` before and after."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    try:
        bundle = load_data(data)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    torch.manual_seed(args.seed)
    method = SimCLR(encoder(bundle), temperature=0.2)
    before = evaluate(method.encoder, bundle, k)

    loader = ViewLoader(bundle.train, view(bundle), n_views=2, batch_size=batch_size, seed=args.seed)
    config = TrainConfig(epochs=args.epochs, lr=lr, warmup_epochs=2, seed=args.seed, device=args.device)
    result = Trainer(method, config).fit(loader)
    after = evaluate(method.encoder, bundle, k)

    print(f"trained {args.epochs} epochs in {result.train_seconds:.1f} s, final loss {result.final_loss:.3f}")
    print(f"{'':18}{'untrained':>12}{'SimCLR':>12}")
    for key in before:
        print(f"{key:18}{before[key]:12.4f}{after[key]:12.4f}")
