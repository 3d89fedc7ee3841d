"""Speed of the batched SimCLR view against a per-sample loop of the torchvision v2 SimCLR pipeline.

Both sides do the same operations with the same probabilities (random resized crop, flip, colour jitter
p=0.8, grayscale p=0.2, Gaussian blur p=0.5); the torchvision side is the pipeline of
``pairs.views.image.torchvision_recipe("simclr", size)`` called once per image, as a ``Dataset``
``__getitem__`` would, then stacked. A third column times the same pipeline through ``TorchvisionView``
(seeded and replayable, one RNG fork per image).

Usage:
    python benchmarks/bench_image_views.py [--repeats 15] [--threads N]

Prints, per batch shape, the median time in ms of each path and the speed-up of the batched view.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from pairs.views.image import simclr_view, torchvision_recipe


def median_ms(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median wall time in ms of each ``fn()`` over ``repeats`` rounds (after ``warmup`` rounds).

    The paths run interleaved, one call of each per round, so that load changes on a shared machine hit
    all of them alike.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def bench(shape: tuple[int, int, int, int], repeats: int) -> dict[str, float]:
    b, c, h, w = shape
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    ours = simclr_view((h, w))
    tv_view = torchvision_recipe("simclr", (h, w))
    tv_pipeline = tv_view.transform
    g = torch.Generator().manual_seed(1)

    def run_ours() -> torch.Tensor:
        return ours(x, generator=g)

    def run_loop() -> torch.Tensor:
        return torch.stack([tv_pipeline(img) for img in x])

    def run_wrapped() -> torch.Tensor:
        return tv_view(x, generator=g)

    return median_ms({"batched": run_ours, "tv_loop": run_loop, "tv_view": run_wrapped}, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per path (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, repeats={args.repeats}")
    header = (
        f"{'batch':>18} | {'batched ms':>10} | {'tv loop ms':>10} | {'TorchvisionView ms':>18} | speed-up"
    )
    print(header)
    print("-" * len(header))
    for shape in [(256, 3, 32, 32), (64, 1, 8, 8)]:
        r = bench(shape, args.repeats)
        print(
            f"{str(shape):>18} | {r['batched']:10.2f} | {r['tv_loop']:10.2f} | {r['tv_view']:18.2f} | "
            f"x{r['tv_loop'] / r['batched']:.1f}"
        )


if __name__ == "__main__":
    main()
