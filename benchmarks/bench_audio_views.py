"""Batched pitch shift vs librosa and torch-audiomentations: 64 one-second 16 kHz clips, own shift each.

* librosa (``librosa.effects.pitch_shift``, phase vocoder + soxr resampling) in a Python loop, one clip
  at a time;
* torch-audiomentations ``PitchShift(mode="per_example")`` (``pip install torch-audiomentations``): it
  picks one of the ratios with a small denominator per example and runs torch-pitch-shift per example;
* pairs: :func:`pairs.views.audio_pitch.pitch_shift`, one batched phase vocoder + windowed-sinc
  resampler with continuous per-example semitones in [-4, 4].

All three run in this one process, alternating, ``--repeats`` times after a warm-up; the script prints
the median seconds per batch and the speed-ups as the median of the per-round ratios (librosa / pairs,
target >= 3; torch-audiomentations / pairs, target >= 10), plus the pitch accuracy of pairs on harmonic
tones and, with a GPU, the same batch on CUDA. The speed figure of the batched time shift and of the
whole speech preset is printed too.

Usage:
    python benchmarks/bench_audio_views.py [--repeats 15] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_seconds, report  # noqa: E402

from pairs.views import audio as A  # noqa: E402
from pairs.views.audio_pitch import pitch_shift  # noqa: E402

SR = 16000


def _time(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` (no warm-up call)."""
    return median_seconds(fn, repeats, warmup=0)


def _pitch_error(batch: int) -> float:
    """Median |error| in semitones of the FFT-peak f0 of shifted harmonic tones (110-440 Hz)."""
    g = torch.Generator().manual_seed(1)
    f0 = 110 * 2 ** (2 * torch.rand(batch, generator=g, dtype=torch.float64))
    steps = torch.rand(batch, generator=g) * 8 - 4
    t = torch.arange(SR, dtype=torch.float64) / SR
    x = sum((0.5 / k) * torch.sin(2 * math.pi * k * f0[:, None] * t + k) for k in range(1, 6)).float()
    y = pitch_shift(x[:, None], SR, steps)[:, 0].numpy()
    errors = []
    n = 1 << 18
    freqs = np.fft.rfftfreq(n, 1 / SR)
    for i in range(batch):
        target = float(f0[i]) * 2 ** (float(steps[i]) / 12)
        spec = np.abs(np.fft.rfft(y[i, 2000:-2000] * np.hanning(SR - 4000), n))
        k = int(np.argmax(np.where((freqs > target / 1.08) & (freqs < target * 1.08), spec, 0)))
        a, b, c = np.log(spec[k - 1 : k + 2])
        errors.append(abs(12 * math.log2((k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / n / target)))
    return float(np.median(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import librosa

    try:
        from torch_audiomentations import PitchShift as TAPitchShift
    except ImportError:  # pragma: no cover - depends on the environment
        TAPitchShift = None
        print("torch-audiomentations is not installed (pip install torch-audiomentations): skipping it")

    g = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch, 1, SR, generator=g) * 0.1
    steps = torch.rand(args.batch, generator=g) * 8 - 4
    x_np = x[:, 0].numpy()

    def ours():
        return pitch_shift(x, SR, steps)

    def with_librosa():
        return [
            librosa.effects.pitch_shift(x_np[i], sr=SR, n_steps=float(steps[i])) for i in range(args.batch)
        ]

    candidates = {"pairs": ours, "librosa": with_librosa}
    if TAPitchShift is not None:
        ta = TAPitchShift(
            min_transpose_semitones=-4.0,
            max_transpose_semitones=4.0,
            mode="per_example",
            p=1.0,
            sample_rate=SR,
            output_type="tensor",
        )
        candidates["torch-audiomentations"] = lambda: ta(x, sample_rate=SR)

    for fn in candidates.values():  # warm-up (FFT plans, ratio tables)
        fn()
    times: dict[str, list[float]] = {k: [] for k in candidates}
    for _ in range(args.repeats):  # alternate, so load changes hit everyone alike
        for name, fn in candidates.items():
            times[name].append(_time(fn, 1))
    med = {k: statistics.median(v) for k, v in times.items()}
    # paired ratios: each round times all candidates back to back, so a slow spell of the (virtual)
    # machine scales both sides of a round's ratio; the median of the per-round ratios is reported
    ratio = {
        k: statistics.median(a / p for a, p in zip(v, times["pairs"], strict=True)) for k, v in times.items()
    }

    print(
        f"pitch shift, batch {args.batch} x 1 s at {SR} Hz, per-example semitones in [-4, 4], "
        f"{args.threads} torch threads, median of {args.repeats}"
    )
    print(f"{'':24}{'seconds/batch':>14}{'ms/clip':>10}{'pairs speed-up':>16}  (median of per-round ratios)")
    for name, sec in med.items():
        print(f"{name:24}{sec:14.4f}{1000 * sec / args.batch:10.2f}{ratio[name]:16.2f}")
    report(
        "audio_pitch_shift",
        "vs librosa loop (64 x 1 s)",
        med["pairs"],
        med["librosa"],
        "s",
        ratio["librosa"],
        target=3.0,
    )
    if "torch-audiomentations" in med:
        report(
            "audio_pitch_shift",
            "vs torch-audiomentations per_example",
            med["pairs"],
            med["torch-audiomentations"],
            "s",
            ratio["torch-audiomentations"],
            target=10.0,
        )

    err = _pitch_error(args.batch)
    print(f"pitch accuracy on harmonic tones: median |error| {err:.4f} semitone (bar 0.1)")

    shift = A.TimeShift(SR, 0.5)
    preset = A.speech_view(SR)
    t_shift = _time(lambda: shift(x, 0), args.repeats)
    t_preset = _time(lambda: preset(x, 0), args.repeats)
    print(
        f"time shift (roll + fade) on the batch: {1000 * t_shift:.2f} ms; "
        f"speech preset: {1000 * t_preset:.1f} ms"
    )

    if torch.cuda.is_available():
        xc, sc = x.cuda(), steps.cuda()
        pitch_shift(xc, SR, sc)
        torch.cuda.synchronize()

        def on_gpu():
            pitch_shift(xc, SR, sc)
            torch.cuda.synchronize()

        t_gpu = _time(on_gpu, args.repeats)
        print(f"CUDA ({torch.cuda.get_device_name()}): {t_gpu:.4f} s per batch")
        report(
            "audio_pitch_shift", "CUDA vs librosa loop", t_gpu, med["librosa"], "s", med["librosa"] / t_gpu
        )
    else:
        print("no CUDA device: GPU figure skipped")


if __name__ == "__main__":
    main()
