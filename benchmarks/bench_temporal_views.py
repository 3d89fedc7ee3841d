"""Time-series views vs tsaug: crop + noise + time warp on a batch of 256 series of length 1,000.

* tsaug (Wen & Keyes 2019, ``pip install tsaug``): ``Crop(size) + AddNoise(scale) + TimeWarp()`` on a numpy
  array ``(256, 1000, 1)`` (tsaug's ``(N, T, C)`` layout).
* pairs: ``Compose([RandomCrop(size), Jitter(sigma), Scaling(0.1), TimeWarp(0.2)])`` on a tensor
  ``(256, 1, 1000)``: one more view (scaling) than the tsaug pipeline.

Both run in this one process, alternating, ``--repeats`` times each after a warm-up; the script prints
the median milliseconds per batch of each and the ratio (tsaug / pairs). By default torch uses one thread,
as tsaug's numpy code does, so the comparison is one core against one core (``--threads`` changes it).

Usage:
    python benchmarks/bench_temporal_views.py [--repeats 50] [--crop 900] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from pairs.views import temporal


def _time(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--crop", type=int, default=900, help="crop length for both libraries")
    parser.add_argument("--sigma", type=float, default=0.03, help="noise standard deviation")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (tsaug is numpy)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    try:
        import tsaug
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise SystemExit("this benchmark needs tsaug: pip install tsaug") from err

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    x_np = rng.standard_normal((args.batch, args.length, 1)).astype(np.float32)  # tsaug layout (N, T, C)
    x_t = torch.from_numpy(np.ascontiguousarray(x_np.transpose(0, 2, 1)))  # ours (B, C, T)

    tsaug_pipe = (
        tsaug.Crop(size=args.crop, seed=args.seed)
        + tsaug.AddNoise(scale=args.sigma, seed=args.seed)
        + tsaug.TimeWarp(seed=args.seed)
    )
    view = temporal.Compose(
        [
            temporal.RandomCrop(args.crop),
            temporal.Jitter(args.sigma),
            temporal.Scaling(0.1),
            temporal.TimeWarp(0.2),
        ]
    )
    gen = torch.Generator().manual_seed(args.seed)

    out_ts = tsaug_pipe.augment(x_np)
    out_ours = view(x_t, gen)
    assert out_ts.shape == (args.batch, args.crop, 1), out_ts.shape
    assert tuple(out_ours.shape) == (args.batch, 1, args.crop), out_ours.shape
    for _ in range(3):  # warm-up
        tsaug_pipe.augment(x_np)
        view(x_t, gen)

    t_tsaug, t_ours = [], []
    for _ in range(args.repeats):  # alternate so that both see the same machine load
        t_tsaug += _time(lambda: tsaug_pipe.augment(x_np), 1)
        t_ours += _time(lambda: view(x_t, gen), 1)
    ms_tsaug = statistics.median(t_tsaug) * 1e3
    ms_ours = statistics.median(t_ours) * 1e3
    print(
        f"batch {args.batch} x length {args.length}, crop {args.crop}, {args.repeats} repeats, "
        f"torch threads {args.threads}"
    )
    print(f"tsaug Crop + AddNoise + TimeWarp             : {ms_tsaug:8.2f} ms (median)")
    print(f"pairs RandomCrop + Jitter + Scaling + TimeWarp: {ms_ours:8.2f} ms (median)")
    print(f"speed-up (tsaug / pairs): {ms_tsaug / ms_ours:.1f}x")


if __name__ == "__main__":
    main()
