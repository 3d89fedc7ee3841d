"""SimCLR on real speech (Debian's pocketsphinx-testdata), evaluated by a linear probe and kNN.

Needs ``apt-get install pocketsphinx-testdata`` (14 real 16 kHz clips, ~46 s, cut into 1 s windows).
The labels are recording sets (LibriVox narrator / cards speaker / command clips), so the probe asks
whether the features separate speakers and recording conditions; with 32 training windows it is a small,
noisy proxy. Runs the library's pieces by hand (the same thing ``pairs train --data speech`` does):

    python examples/audio_simclr.py --epochs 30

Prints the probe and kNN accuracy of the trained log-mel CNN beside the same network untrained.
"""

from __future__ import annotations

import argparse

import torch

import encoders
from pairs.data import load_data
from pairs.eval import effective_rank, extract_features, knn_accuracy, linear_probe
from pairs.methods import SimCLR
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer
from pairs.views.audio import speech_view


def evaluate(encoder: torch.nn.Module, speech) -> dict[str, float]:
    train = extract_features(encoder, speech.train)
    test = extract_features(encoder, speech.test)
    probe = linear_probe(train, speech.train_labels, test, speech.test_labels)
    return {
        "linear_probe_acc": probe["acc"],
        "knn_acc": knn_accuracy(train, speech.train_labels, test, speech.test_labels, k=5),
        "effective_rank": effective_rank(test),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    try:
        speech = load_data("speech")  # (32, 1, 16000) train / (8, 1, 16000) held-out windows
    except ValueError as err:
        raise SystemExit(str(err)) from None
    sr = speech.info["sample_rate"]
    torch.manual_seed(args.seed)
    net = encoders.get("logmel_cnn", sample_rate=sr, width=16, out_dim=128)
    method = SimCLR(net, temperature=0.2)
    before = evaluate(method.encoder, speech)

    loader = ViewLoader(speech.train, speech_view(sr), n_views=2, batch_size=32, seed=args.seed)
    config = TrainConfig(epochs=args.epochs, lr=1e-3, warmup_epochs=2, seed=args.seed, device=args.device)
    result = Trainer(method, config).fit(loader)
    after = evaluate(method.encoder, speech)

    print(f"trained {args.epochs} epochs in {result.train_seconds:.1f} s, final loss {result.final_loss:.3f}")
    print(f"{'':18}{'untrained':>12}{'SimCLR':>12}")
    for key in before:
        print(f"{key:18}{before[key]:12.4f}{after[key]:12.4f}")


if __name__ == "__main__":
    main()
