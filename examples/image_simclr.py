"""SimCLR on sklearn's digits (real, offline data), evaluated by a linear probe and kNN on held-out digits.

Runs the library's pieces by hand (the same thing `pairs train` does with its defaults):

    python examples/image_simclr.py --epochs 40

Prints the linear-probe and kNN accuracy of the trained encoder beside a randomly initialised encoder of
the same architecture, probed the same way.
"""

from __future__ import annotations

import argparse

import torch

import encoders
from pairs.data import load_data
from pairs.domains.image import small_image_view
from pairs.eval import effective_rank, extract_features, knn_accuracy, linear_probe
from pairs.methods import SimCLR
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer


def evaluate(encoder: torch.nn.Module, digits) -> dict[str, float]:
    train = extract_features(encoder, digits.train)
    test = extract_features(encoder, digits.test)
    probe = linear_probe(train, digits.train_labels, test, digits.test_labels)
    return {
        "linear_probe_acc": probe["acc"],
        "knn_acc": knn_accuracy(train, digits.train_labels, test, digits.test_labels, k=20),
        "effective_rank": effective_rank(test),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    digits = load_data("digits")  # (1347, 1, 8, 8) train / (450, 1, 8, 8) held-out, stratified
    torch.manual_seed(args.seed)
    method = SimCLR(encoders.get("small_cnn", in_channels=1, width=32), temperature=0.2)
    before = evaluate(method.encoder, digits)

    loader = ViewLoader(digits.train, small_image_view(8), n_views=2, batch_size=256, seed=args.seed)
    config = TrainConfig(epochs=args.epochs, lr=2e-3, warmup_epochs=2, seed=args.seed, device=args.device)
    result = Trainer(method, config).fit(loader)
    after = evaluate(method.encoder, digits)

    print(f"trained {args.epochs} epochs in {result.train_seconds:.1f} s, final loss {result.final_loss:.3f}")
    print(f"{'':18}{'untrained':>12}{'SimCLR':>12}")
    for key in before:
        print(f"{key:18}{before[key]:12.4f}{after[key]:12.4f}")


if __name__ == "__main__":
    main()
