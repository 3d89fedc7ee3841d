"""Peak memory of ``pairs embed`` on streamed shards: flat in the collection size.

A digits run (1 epoch; its small CNN takes grey images of any size) embeds ``wds:`` shard collections
of ``--small`` and ``--large`` synthetic 28x28 grey images written by ``pairs pack``; each ``pairs embed``
runs in its own process, and a thread samples its resident memory (``/proc/self/statm``) every 20 ms: the
figure is the peak *above* the memory after imports (torch alone is several hundred MB). The anchor is the
in-memory way (every image decoded into one tensor, then :func:`pairs.eval.extract_features` over it, then
``np.save``) on the large collection.

RESULT: ``ours`` = peak MB of ``pairs embed`` on the large collection, ``anchor`` = the in-memory way's,
``ratio`` = anchor / ours; ``growth`` = ours(large) / ours(small) (1.0 = flat).

Usage::

    python benchmarks/bench_embed_memory.py                      # 10,000 vs 100,000 images
    python benchmarks/bench_embed_memory.py --small 2000 --large 20000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = 28
sys.path.insert(0, str(ROOT))

from benchmarks._common import report  # noqa: E402

CHILD = r"""
import json, os, sys, threading, time
import numpy as np
mode, run, data, out = sys.argv[1:5]
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page / 2**20
import torch
import pairs
from pairs.data import load_data
from pairs.eval import extract_features
from pairs.results.embedding import embed
torch.zeros(1)
base = rss()
peak = [base]
done = threading.Event()
def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.02)
t = threading.Thread(target=watch, daemon=True)
t.start()
if mode == "ours":
    embed(run, data, out, batch_size=1024)
else:
    bundle = load_data(data)
    src = bundle.train
    x = torch.stack([src[i] for i in range(len(src))])  # everything decoded into memory
    encoder = pairs.load_encoder(run)
    np.save(out, extract_features(encoder, x, batch_size=1024).numpy())
done.set()
t.join()
peak[0] = max(peak[0], rss())
print(json.dumps({"peak_mb": peak[0] - base}))
"""


def make_shards(n: int, folder: Path) -> str:
    import torch

    from pairs.data.registry import DataBundle
    from pairs.data.shards import pack

    g = torch.Generator().manual_seed(n)
    x = torch.rand(n, 1, SIZE, SIZE, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    pack(DataBundle(f"synthetic{n}", "image", x, labels, None, None, {}), folder, shard_size=20_000)
    return f"wds:{folder}"


def measure(mode: str, run: Path, data: str, out: Path) -> float:
    env_path = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(run), data, str(out)],
        capture_output=True,
        text=True,
        cwd=env_path,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{mode} failed: {result.stderr[-2000:]}")
    return float(json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--run", help="an existing digits run (default: train one for 1 epoch)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        run = Path(args.run) if args.run else tmp / "run"
        if not args.run:
            from pairs.experiment import train

            train("digits", epochs=1, out=str(run), progress=False, evaluate_untrained=False, log=None)
        small = make_shards(args.small, tmp / "small")
        large = make_shards(args.large, tmp / "large")
        ours_small = measure("ours", run, small, tmp / "s.npy")
        ours_large = measure("ours", run, large, tmp / "l.npy")
        anchor_large = measure("anchor", run, large, tmp / "a.npy")
    growth = ours_large / ours_small
    print(
        f"pairs embed peak RSS: {ours_small:.0f} MB for {args.small} images, {ours_large:.0f} MB for "
        f"{args.large} (x{growth:.2f}); in-memory way on {args.large}: {anchor_large:.0f} MB"
    )
    report(
        "embed_memory",
        f"wds images {args.small} -> {args.large}",
        round(ours_large, 1),
        round(anchor_large, 1),
        "MB",
        anchor_large / ours_large,
        target=1.0,
        growth=round(growth, 3),
    )


if __name__ == "__main__":
    main()
