"""CPC on raw speech: a speaker (voice) probe on the espeak-ng set, against MFCC and the untrained model.

Builds (or reuses) the multi-voice espeak-ng set of ``examples/make_speech_set.py``, trains CPC (CPC's
strided waveform conv, a GRU context, linear predictors for K future 10 ms steps, InfoNCE with negatives
from the same and other clips) on random windows of the training clips, then fits a linear probe on
mean-pooled context features to predict the voice of held-out clips. Baselines: mean+std-pooled MFCCs,
and the same CPC model at initialisation.

Usage::

    apt-get install -y espeak-ng
    python examples/cpc_audio.py --data data/espeak --steps 400

Reference:
    van den Oord, Li & Vinyals 2018, "Representation Learning with Contrastive Predictive Coding",
    section 3.1 (speaker classification from mean-pooled c_t with a linear classifier).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_speech_set import make_speech_set  # noqa: E402

import encoders  # noqa: E402
from pairs.data import load_data  # noqa: E402
from pairs.eval import extract_features, linear_probe  # noqa: E402
from pairs.methods.cpc import CPC  # noqa: E402
from pairs.pairing import ViewLoader  # noqa: E402
from pairs.train import TrainConfig, Trainer  # noqa: E402
from pairs.views.audio import RandomCropPad  # noqa: E402


class FrameSpectrumMLP(torch.nn.Module):
    """A per-frame latent encoder for patch mode: log magnitude spectrum of each non-overlapping 10 ms frame
    (160 samples, Hann window), then an MLP.

    Used with ``--encoder spectrum`` (the default). On short CPU budgets it trains where the strided
    waveform conv ("cpc_conv") sits on the chance-level plateau of the InfoNCE loss.
    """

    def __init__(self, frame: int = 160, out_dim: int = 128) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.register_buffer("window", torch.hann_window(frame))
        self.net = torch.nn.Sequential(
            torch.nn.Linear(frame // 2 + 1, 4 * out_dim),
            torch.nn.ReLU(),
            torch.nn.Linear(4 * out_dim, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.mean(dim=1) if x.dim() == 3 else x  # (B, frame)
        spectrum = torch.fft.rfft(frames * self.window, dim=-1).abs()
        return self.net(torch.log(spectrum + 1e-3))


def mfcc_features(x: torch.Tensor, sample_rate: int = 16000, n_mfcc: int = 20) -> torch.Tensor:
    """Mean and standard deviation over time of MFCCs (25 ms windows, 10 ms hop): ``(N, 2 n_mfcc)``."""
    import torchaudio

    mfcc = torchaudio.transforms.MFCC(
        sample_rate=sample_rate,
        n_mfcc=n_mfcc,
        melkwargs={"n_fft": 400, "hop_length": 160, "n_mels": 40},
    )
    feats = mfcc(x.mean(dim=1))  # (N, n_mfcc, frames)
    return torch.cat([feats.mean(dim=-1), feats.std(dim=-1)], dim=1)


def probe(encoder: torch.nn.Module, bundle) -> float:
    train = extract_features(encoder, bundle.train, batch_size=32)
    test = extract_features(encoder, bundle.test, batch_size=32)
    return float(linear_probe(train, bundle.train_labels, test, bundle.test_labels)["acc"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/espeak", help="espeak-ng set folder (built if missing)")
    parser.add_argument("--per-voice", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=1.5, help="clip length loaded from each utterance")
    parser.add_argument("--steps", type=int, default=400, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=128, help="latent and context size")
    parser.add_argument(
        "--encoder", default="spectrum", choices=["spectrum", "cpc_conv"], help="latent encoder"
    )
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--k", type=int, default=12, help="future steps predicted")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/cpc_audio")
    parser.add_argument("--figure", help="also draw per-step accuracy and the probe figures to this PNG")
    args = parser.parse_args()

    data = Path(args.data)
    if not (data / "manifest.json").is_file():
        print(f"building the espeak-ng speech set in {data} ...")
        make_speech_set(data, per_voice=args.per_voice, seed=args.seed)
    bundle = load_data(f"audio:{data}@16000@{args.seconds}")
    print(
        f"{len(bundle.train)} train / {len(bundle.test)} held-out clips, {len(bundle.info['classes'])} voices"
    )

    torch.manual_seed(args.seed)
    if args.encoder == "cpc_conv":
        latent, patch = encoders.get("cpc_conv", out_dim=args.width), None
    else:
        latent, patch = FrameSpectrumMLP(160, args.width), 160
    method = CPC(
        latent,
        steps=args.k,
        context_dim=args.width,
        negatives=10,
        negatives_from="both",
        score="cosine",
        temperature=0.1,
        patch_len=patch,
        seed=args.seed,
    )
    untrained = copy.deepcopy(method.encoder)

    window = int(round(args.seconds * 0.8 * 100)) * 160  # 80% of a clip, whole 10 ms frames
    loader = ViewLoader(
        bundle.train, RandomCropPad(16000, window), n_views=1, batch_size=args.batch_size, seed=args.seed
    )
    epochs = max(1, math.ceil(args.steps / len(loader)))
    config = TrainConfig(
        epochs=epochs, lr=args.lr, optimizer="adam", weight_decay=0.0, warmup_epochs=0.0, seed=args.seed,
        out_dir=args.out, overwrite=True, progress=False,
    )  # fmt: skip
    start = time.time()
    Trainer(method, config).fit(loader)
    seconds = time.time() - start

    results = {
        "cpc_probe_acc": probe(method.encoder, bundle),
        "untrained_probe_acc": probe(untrained, bundle),
        "mfcc_probe_acc": float(
            linear_probe(
                mfcc_features(bundle.train),
                bundle.train_labels,
                mfcc_features(bundle.test),
                bundle.test_labels,
            )["acc"]
        ),
        "chance": 1.0 / len(bundle.info["classes"]),
        **method.step_accuracies(),
        "train_seconds": round(seconds, 1),
        "epochs": epochs,
    }
    print(json.dumps(results))
    if args.figure:
        draw(results, args.k, args.figure)


def draw(results: dict, k: int, path: str) -> None:
    """Per-step accuracy of the last training batches (left) and the voice-probe accuracies (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    steps = list(range(1, k + 1))
    left.plot(steps, [results[f"acc_k{s}"] for s in steps], marker="o", label="CPC")
    left.axhline(1 / 11, color="gray", ls="--", label="chance (10 negatives)")
    left.set_xlabel("prediction step k (10 ms)")
    left.set_ylabel("positive ranked first")
    left.set_ylim(0, 1)
    left.legend(fontsize=8)
    names = ["cpc_probe_acc", "untrained_probe_acc", "mfcc_probe_acc"]
    right.bar(["CPC", "untrained", "MFCC"], [results[n] for n in names], color=["C0", "C7", "C1"])
    right.axhline(results["chance"], color="gray", ls="--")
    right.set_ylim(0, 1)
    right.set_ylabel("voice probe accuracy (held out)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
