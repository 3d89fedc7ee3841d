"""What ``image_simclr.py`` and ``audio_simclr.py`` share: train SimCLR by hand on one data set and print
the linear-probe and kNN accuracy of the trained encoder beside the same network untrained."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch

import encoders
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


def _digits_setup() -> dict[str, Any]:
    from pairs.domains.image import small_image_view

    # digits: (1347, 1, 8, 8) train / (450, 1, 8, 8) held-out, stratified
    return {
        "encoder": lambda digits: encoders.get("small_cnn", in_channels=1, width=32),
        "view": lambda digits: small_image_view(8),
        "epochs": 40,
        "batch_size": 256,
        "lr": 2e-3,
        "k": 20,
    }


def _speech_setup() -> dict[str, Any]:
    from pairs.views.audio import speech_view

    # the speech set: (32, 1, 16000) train / (8, 1, 16000) held-out windows
    return {
        "encoder": lambda speech: encoders.get(
            "logmel_cnn", sample_rate=speech.info["sample_rate"], width=16, out_dim=128
        ),
        "view": lambda speech: speech_view(speech.info["sample_rate"]),
        "epochs": 30,
        "batch_size": 32,
        "lr": 1e-3,
        "k": 5,
    }


SETUPS: dict[str, Callable[[], dict[str, Any]]] = {"digits": _digits_setup, "speech": _speech_setup}
"""Per data set: the encoder and views (functions of the loaded bundle), default epochs, batch size,
learning rate and the ``k`` of the kNN figure."""


def run_simclr(description: str, data: str) -> None:
    """Parse ``--epochs --seed --device``, load ``data`` (a data error ends the script with its message),
    train SimCLR (temperature 0.2) with the encoder and views of ``SETUPS[data]`` and print the figures of
    :func:`evaluate` before and after."""
    setup = SETUPS[data]()
    encoder, view, batch_size, lr, k = (setup[key] for key in ("encoder", "view", "batch_size", "lr", "k"))
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=setup["epochs"])
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
