"""CPC on raw speech: a speaker (voice) probe on the espeak-ng set, against MFCC and the untrained model.

Builds (or reuses) the multi-voice espeak-ng set of ``examples/make_speech_set.py`` (12 close voices,
varied sentences, pitch, speed and recording channel), trains CPC (CPC's strided waveform conv with
BatchNorm, a GRU context, linear predictors for K future 10 ms steps, InfoNCE with negatives from the same
and other clips) on random windows of the training clips, then fits a linear probe on mean-pooled context
features of the (3 s) training clips to predict the voice of short (1 s) held-out clips. Baselines:
mean+std-pooled MFCCs, and the same CPC model at initialisation (its BatchNorm statistics calibrated on
the training windows, no gradient step). With ``--augment`` (default) the context and the targets come
from two copies of each window, each through its own random channel, so a clip's channel is no cue for
the positive (see :class:`ChannelPair`).

Usage::

    apt-get install -y espeak-ng
    python examples/cpc_audio.py --data data/espeak --seeds 0 1 2

What it shows (2 CPU cores, batch 8; 96 held-out clips, so one clip is one point): CPC does **not** beat
the MFCC baseline on this task at this budget.

==============================================  =============  =============  =====
set, CPC run                                     CPC            untrained      MFCC
==============================================  =============  =============  =====
default set, 240 steps (seeds 0 / 1)             0.208 / 0.240  0.156 / 0.208  0.729
clean set (``--clean``), 200 steps, seed 0       0.438          0.302          0.938
clean set (``--clean``), 1000 steps, seed 0      0.562          0.302          0.938
==============================================  =============  =============  =====

(clean-set runs: ``--no-augment``, as there is no channel to hide; MFCC: mean and std of 20 MFCCs,
:func:`pairs.eval.baselines.mfcc_statistics`, which is also ``mfcc_probe_acc`` in ``pairs train``'s report
for labelled audio).

On clean speech the voice probe rises with training (the per-step accuracies too: 0.95 / 0.76 / 0.56 /
0.44 at k = 1 / 4 / 8 / 12 after 1000 steps) but stays far below mean+std MFCCs. With a random channel
per utterance it falls as training goes on, whatever the front end (waveform conv, per-frame log
spectrum, log-mel), the negatives (same clip, batch, both) or a two-view channel augmentation: decoding
the pooled features shows they keep the recording channel (noise level R^2 0.9) and lose the voice. The
CPC paper's speaker result (97.4% on LibriSpeech) rests on ~100 hours of speech, long GPU training and
channels that belong to the speaker.

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
from pairs.eval.baselines import mfcc_statistics  # noqa: E402
from pairs.methods.cpc import CPC  # noqa: E402
from pairs.pairing import ViewLoader  # noqa: E402
from pairs.train import TrainConfig, Trainer  # noqa: E402
from pairs.views.audio import RandomCropPad  # noqa: E402


class FrameSpectrumMLP(torch.nn.Module):
    """A per-frame latent encoder for patch mode: log magnitude spectrum of each non-overlapping 10 ms frame
    (160 samples, Hann window), then an MLP.

    Used with ``--encoder spectrum`` (an alternative to the default strided waveform conv).
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


class ChannelPair:
    """Two time-aligned copies of one random window of every clip, each through its own random channel
    (gain, spectral tilt and peak, coloured noise at a random SNR); a multi-view producer for CPC's
    two-view mode (targets from the first copy, context from the second), so the recording channel of a
    clip is no cue for telling the positive from the negatives, while the voice is.

    Args:
        window: window length in samples.
        sample_rate: rate in Hz.
        snr_db: range of the added noise's signal-to-noise ratio.
        eq_db: the tilt (per octave) and peak gains are drawn from ``[-eq_db, eq_db]``.
    """

    multi_view = True

    def __init__(self, window: int, sample_rate: int = 16000, snr_db=(5.0, 30.0), eq_db: float = 6.0):
        self.crop = RandomCropPad(sample_rate, window)
        self.sample_rate, self.snr_db, self.eq_db = sample_rate, snr_db, eq_db

    def channel(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, n = x.shape[0], x.shape[-1]
        f = torch.fft.rfftfreq(n, 1.0 / self.sample_rate).clamp(min=20.0)
        octaves = torch.log2(f / 1000.0)[None]  # (1, F)
        u = torch.rand(b, 6, generator=g)
        tilt = (2 * u[:, :1] - 1) * self.eq_db / 2
        peak_oct = math.log2(0.3) + u[:, 1:2] * math.log2(4.0 / 0.3)  # 300 Hz - 4 kHz
        peak = (2 * u[:, 2:3] - 1) * self.eq_db * torch.exp(-0.5 * ((octaves - peak_oct) / 0.35) ** 2)
        gain_db = tilt * octaves + peak
        y = torch.fft.irfft(torch.fft.rfft(x[:, 0]) * 10 ** (gain_db / 20), n)
        noise = torch.randn(b, n, generator=g)
        colour = (2 * u[:, 3:4] - 1) / 2  # spectral slope exponent / 2
        noise = torch.fft.irfft(torch.fft.rfft(noise) * (f[None] / 1000.0) ** colour, n)
        snr = self.snr_db[0] + u[:, 4:5] * (self.snr_db[1] - self.snr_db[0])
        p_sig = y.pow(2).mean(-1, keepdim=True)
        noise = noise * torch.sqrt(
            p_sig / noise.pow(2).mean(-1, keepdim=True).clamp(min=1e-12) / 10 ** (snr / 10)
        )
        out = (y + noise) * 10 ** ((u[:, 5:6] * 20 - 20) / 20)  # gain -20..0 dB
        return out[:, None]

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> list[torch.Tensor]:
        window = self.crop(batch, generator)
        return [self.channel(window, generator), self.channel(window, generator)]


def probe(encoder: torch.nn.Module, train: torch.Tensor, y_train, test: torch.Tensor, y_test) -> float:
    """Linear-probe accuracy on the encoder's (eval-mode) features of ``train``/``test``."""
    f_train = extract_features(encoder, train, batch_size=32)
    f_test = extract_features(encoder, test, batch_size=32)
    return float(linear_probe(f_train, y_train, f_test, y_test)["acc"])


def short_clips(x: torch.Tensor, seconds: float, max_offset: float, seed: int, sample_rate: int = 16000):
    """Cut ``seconds`` of every clip at a seeded random offset in ``[0, max_offset]`` seconds."""
    n = int(round(seconds * sample_rate))
    g = torch.Generator().manual_seed(seed)
    room = max(0, min(int(max_offset * sample_rate), x.shape[-1] - n))
    offsets = torch.randint(0, room + 1, (len(x),), generator=g)
    return torch.stack([clip[..., o : o + n] for clip, o in zip(x, offsets.tolist(), strict=True)])


def calibrate_batchnorm(encoder: torch.nn.Module, loader, batches: int = 20) -> None:
    """Set every BatchNorm's running statistics to the average over ``batches`` training batches, without
    any gradient step (an untrained model's BatchNorm otherwise normalises with mean 0 and variance 1)."""
    norms = [m for m in encoder.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    encoder.train()
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if i >= batches:
                break
            encoder(batch.views[0])
    encoder.eval()


def train_cpc(bundle, args: argparse.Namespace, seed: int) -> tuple[dict, torch.nn.Module, torch.nn.Module]:
    """Train CPC with ``seed``; return (per-step accuracies and timing, trained, untrained encoder)."""
    torch.manual_seed(seed)
    if args.encoder == "cpc_conv":
        latent, patch = encoders.get("cpc_conv", out_dim=args.width, norm=args.norm), None
    else:
        latent, patch = FrameSpectrumMLP(160, args.width), 160
    method = CPC(
        latent,
        steps=args.k,
        context_dim=args.width,
        negatives=args.negatives,
        negatives_from=args.negatives_from,
        score=args.score,
        temperature=args.temperature,
        patch_len=patch,
        seed=seed,
    )
    untrained = copy.deepcopy(method.encoder)
    window = int(round(args.window * 100)) * 160  # whole 10 ms frames
    if args.augment:
        view, n_views = ChannelPair(window), 2
    else:
        view, n_views = RandomCropPad(16000, window), 1
    loader = ViewLoader(bundle.train, view, n_views=n_views, batch_size=args.batch_size, seed=seed)
    epochs = max(1, math.ceil(args.steps / len(loader)))
    config = TrainConfig(
        epochs=epochs, lr=args.lr, optimizer="adam", weight_decay=0.0, warmup_epochs=0.0, seed=seed,
        out_dir=f"{args.out}/seed{seed}", overwrite=True, progress=False,
    )  # fmt: skip
    calibrate_batchnorm(untrained, loader)
    start = time.time()
    Trainer(method, config).fit(loader)
    stats = {**method.step_accuracies(), "train_seconds": round(time.time() - start, 1), "epochs": epochs}
    return stats, method.encoder, untrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/espeak", help="espeak-ng set folder (built if missing)")
    parser.add_argument("--per-voice", type=int, default=40, help="utterances per voice when building")
    parser.add_argument("--seconds", type=float, default=3.0, help="training clip length per utterance")
    parser.add_argument("--test-seconds", type=float, default=1.0, help="held-out clip length")
    parser.add_argument("--window", type=float, default=1.28, help="CPC training window in seconds")
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=int, default=128, help="latent and context size")
    parser.add_argument(
        "--encoder", default="cpc_conv", choices=["cpc_conv", "spectrum"], help="latent encoder"
    )
    parser.add_argument("--norm", default="batch", help="cpc_conv normalisation: batch, channel, none")
    parser.add_argument("--score", default="dot", choices=["dot", "cosine"])
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--negatives", type=int, default=16)
    parser.add_argument("--negatives-from", default="both", choices=["same", "batch", "both"])
    parser.add_argument(
        "--augment", action=argparse.BooleanOptionalAction, default=True,
        help="context and targets from two differently channel-augmented copies of each window",
    )  # fmt: skip
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--k", type=int, default=12, help="future steps predicted")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (one run each)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/cpc_audio")
    parser.add_argument("--figure", help="also draw per-step accuracy and the probe figures to this PNG")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = Path(args.data)
    if not (data / "manifest.json").is_file():
        print(f"building the espeak-ng speech set in {data} ...")
        make_speech_set(data, per_voice=args.per_voice, seed=0)
    bundle = load_data(f"audio:{data}@16000@{args.seconds}")
    test = short_clips(bundle.test, args.test_seconds, 0.5, seed=0)
    y_train, y_test = bundle.train_labels, bundle.test_labels
    print(
        f"{len(bundle.train)} train clips ({args.seconds} s) / {len(test)} held-out clips "
        f"({args.test_seconds} s), {len(bundle.info['classes'])} voices"
    )
    mfcc_train, mfcc_test = mfcc_statistics(bundle.train, 16000), mfcc_statistics(test, 16000)
    mfcc = float(linear_probe(mfcc_train, y_train, mfcc_test, y_test)["acc"])
    rows = []
    for seed in args.seeds:
        stats, trained, untrained = train_cpc(bundle, args, seed)
        row = {
            "seed": seed,
            "cpc_probe_acc": probe(trained, bundle.train, y_train, test, y_test),
            "untrained_probe_acc": probe(untrained, bundle.train, y_train, test, y_test),
            "mfcc_probe_acc": mfcc,
            "chance": 1.0 / len(bundle.info["classes"]),
            **stats,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'seed':>4} {'CPC':>6} {'MFCC':>6} {'untrained':>9}  acc_k1 acc_k4 acc_k8 acc_k{args.k}")
    for r in rows:
        accs = " ".join(f"{r.get(f'acc_k{k}', float('nan')):.3f}" for k in (1, 4, 8, args.k))
        print(
            f"{r['seed']:>4} {r['cpc_probe_acc']:6.3f} {r['mfcc_probe_acc']:6.3f} "
            f"{r['untrained_probe_acc']:9.3f}  {accs}"
        )
    if args.figure:
        draw(rows[0], args.k, args.negatives, args.figure)


def draw(results: dict, k: int, negatives: int, path: str) -> None:
    """Per-step accuracy of the last training batches (left) and the voice-probe accuracies (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    steps = list(range(1, k + 1))
    left.plot(steps, [results[f"acc_k{s}"] for s in steps], marker="o", label="CPC")
    left.axhline(1 / (negatives + 1), color="gray", ls="--", label=f"chance ({negatives} negatives)")
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
