"""Peak memory of ``pairs embed`` is flat in the collection's size, for every domain (issue 17).

For each domain the script generates two collections in a temporary folder (not shipped) with the
generators of ``bench_memory_scale.py`` (issue 16's sizes), trains a run on the small one
(``pairs train --epochs 1 --max-steps 2``: the weights do not matter for memory), then runs
``python -m pairs embed --checkpoint RUN --data SPEC --out OUT.npy`` on each collection in a child process
and takes two figures of each run:

* ``peak``: the peak resident memory of the largest process of the run (``pairs embed`` or one of its
  ``DataLoader`` workers), read with ``resource.getrusage(RUSAGE_CHILDREN)`` in a fresh wrapper process,
  exactly as ``bench_memory_scale.py`` measures ``pairs train`` (issue 16's ratio);
* ``above imports``: the peak resident memory of the ``pairs embed`` process above its memory once torch and
  pairs are imported, sampled every 20 ms from ``/proc/self/statm`` (torch alone is several hundred MB, so
  this figure shows growth that the first one dilutes).

Collections (issue 16, "Must reach"): ``images:DIR@64`` 20,000 vs 2,000 generated PNGs; ``audio:DIR`` 2 h vs
12 min of WAV; ``text:FILE`` 1,000,000 vs 100,000 lines; ``series:FILE.npy`` 4 GB vs 0.4 GB (float32
``(N, 1, 256)``); and ``wds:DIR`` shards of 100,000 vs 10,000 28x28 grey images written by ``pairs pack``
(embedded by a digits run), whose index is the one that grew before. The series run uses a one-block
dilated CNN (``--encoder-arg hidden=8 depth=1 out_dim=16``) so that embedding 3.9 million series fits a
2-core budget; the encoder's size is the same for both collections, so the ratio is what it is with the
default encoder.

Prints both peaks and the ratio per domain (large / small; target <= 1.25, as issue 16) and a RESULT line
each (``ours`` = peak MB on the large collection, ``anchor`` = on the small one, ``ratio`` = small / large,
target 0.8 = 1 / 1.25; ``large_over_small`` and the figures above imports as extra fields).

Usage::

    python benchmarks/bench_embed_memory.py                        # every domain at issue 16's sizes
    python benchmarks/bench_embed_memory.py --quick                # every size / 10
    python benchmarks/bench_embed_memory.py --only wds --small 2000 --large 20000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import generate, pairs_command, report_memory_growth, run_with_peak  # noqa: E402
from benchmarks.bench_memory_scale import CASES as SCALE_CASES  # noqa: E402 - issue 16's generators

CHILD = r"""
import json, os, sys, threading, time
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page / 2**20
import torch
import pairs.cli, pairs.results.embedding  # everything `pairs embed` imports before it reads data
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
code = pairs.cli.main(sys.argv[1:])
done.set()
t.join()
peak[0] = max(peak[0], rss())
print("ABOVE_MB", peak[0] - base, flush=True)
sys.exit(code)
"""

WDS_SIZE = 28


def make_shards(folder: Path, n: int) -> str:
    """``n`` random 28x28 grey images with labels, packed into ``wds`` shards of 20,000."""
    import torch

    from pairs.data.registry import DataBundle
    from pairs.data.shards import pack

    g = torch.Generator().manual_seed(n)
    x = torch.rand(n, 1, WDS_SIZE, WDS_SIZE, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    pack(DataBundle(f"synthetic{n}", "image", x, labels, None, None, {}), folder, shard_size=20_000)
    return f"wds:{folder}"


# domain: (generator, (large, small), unit, train batch, embed batch, extra train arguments)
CASES = {
    "image": (*SCALE_CASES["image"][:3], 64, 256, []),
    "audio": (*SCALE_CASES["audio"][:3], 32, 64, []),
    "text": (*SCALE_CASES["text"][:3], 128, 1024, []),
    "series": (
        *SCALE_CASES["series"][:3],
        8,
        1024,
        ["--encoder-arg", "hidden=8", "--encoder-arg", "depth=1", "--encoder-arg", "out_dim=16"],
    ),
    "wds": (make_shards, (100_000, 10_000), "images in shards", 64, 1024, []),
}


def _size(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def train_run(domain: str, spec: str, out: Path, batch: int, extra: list[str]) -> Path:
    """A run on ``spec`` to embed with (2 steps; wds shards of random images get a digits run)."""
    data = "digits" if domain == "wds" else spec
    cmd = pairs_command("train", "--data", data, "--epochs", "1", "--max-steps", "2")
    cmd += ["--batch-size", str(batch), "--out", str(out), "--no-progress", "--workers", "1", *extra]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"pairs train failed on {data}:\n{proc.stderr[-3000:]}")
    return out


def measure(run: Path, spec: str, out: Path, batch: int) -> tuple[float, float, float]:
    """(peak MB of the largest process, peak MB above imports of pairs embed, seconds) of one embed run."""
    cmd = [sys.executable, "-c", CHILD, "embed", "--checkpoint", str(run), "--data", spec, "--out", str(out)]
    cmd += ["--batch-size", str(batch)]
    peak, seconds, lines = run_with_peak(cmd, f"pairs embed on {spec}")
    above = [ln for ln in lines if ln.startswith("ABOVE_MB")]
    if not above:
        raise SystemExit(f"pairs embed on {spec} printed no ABOVE_MB line:\n{lines[-20:]}")
    return peak, float(above[-1].split()[1]), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every size divided by 10")
    parser.add_argument("--only", default="image,audio,text,series,wds", help="comma-separated cases")
    parser.add_argument("--small", type=float, help="small size (with one case in --only)")
    parser.add_argument("--large", type=float, help="large size (with one case in --only)")
    args = parser.parse_args()
    status = 0
    for domain in args.only.split(","):
        make, (large, small), unit, train_batch, embed_batch, extra = CASES[domain]
        if args.quick:
            large, small = type(large)(large / 10), type(small)(small / 10)
        large = type(large)(args.large) if args.large else large
        small = type(small)(args.small) if args.small else small
        with tempfile.TemporaryDirectory(prefix=f"pairs-embed-{domain}-") as tmp:
            figures: dict[str, tuple[float, float, float]] = {}
            run = None
            for name, size in (("small", small), ("large", large)):
                folder = Path(tmp) / name
                spec, made = generate(folder, make, size)
                if run is None:
                    run = train_run(domain, spec, Path(tmp) / "run", train_batch, extra)
                figures[name] = measure(run, spec, folder / "out.npy", embed_batch)
                peak, above, seconds = figures[name]
                print(
                    f"{domain} {name}: {_size(size)} {unit} (generated in {made:.0f} s): pairs embed peak "
                    f"RSS {peak:.0f} MB ({above:.0f} MB above imports), {seconds:.0f} s",
                    flush=True,
                )
        (lp, la, _), (sp, sa, _) = figures["large"], figures["small"]
        ratio = lp / sp
        print(
            f"{domain}: pairs embed peak RSS {lp:.0f} MB ({_size(large)}) vs {sp:.0f} MB "
            f"({_size(small)} {unit}), ratio {ratio:.3f} (target <= 1.25); above imports {la:.0f} vs "
            f"{sa:.0f} MB (x{la / sa:.2f})",
            flush=True,
        )
        status |= report_memory_growth(
            "embed_memory",
            f"{domain} {_size(large)} vs {_size(small)} {unit}",
            lp,
            sp,
            "MB peak RSS of pairs embed (ours = large collection, anchor = 10x smaller)",
            above_imports_mb=[round(la, 1), round(sa, 1)],
            above_imports_growth=round(la / sa, 3),
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
