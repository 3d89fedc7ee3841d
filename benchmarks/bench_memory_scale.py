"""Memory flat in the data size: peak RSS of ``pairs train`` on a collection and on one 10x smaller.

For each domain the script generates two collections in a temporary folder (not shipped), then runs
``python -m pairs train --data SPEC --epochs 1 --max-steps S`` on each in a child process and reads the
peak resident memory of the largest process of that run (the trainer or one of its DataLoader workers)
with ``resource.getrusage(RUSAGE_CHILDREN)`` in a fresh wrapper process per run. A run covers indexing,
loading (the capped epoch: ``--max-steps`` keeps an epoch of 20,000 images affordable on 2 cores), and the
evaluation (untrained and trained encoder; streamed splits are evaluated on at most 10,000 items each).

Collections (issue 16, "Must reach"):

* ``images:DIR@64``: 20,000 vs 2,000 generated 80x80 PNGs in 4 class folders;
* ``audio:DIR``: 2 h vs 12 min of generated 16 kHz WAV (24 files in 2 class folders);
* ``text:FILE``: 1,000,000 vs 100,000 generated lines with fastText labels;
* ``series:FILE.npy``: a 4 GB vs a 0.4 GB float32 array ``(N, 1, 256)``, unlabeled (so no evaluation:
  TS2Vec's SVM protocol on 10,000 series would dominate the run time, not the memory).

Prints both peaks and the ratio (large / small); target: ratio <= 1.25 (the RESULT line's ``ratio`` is
small / large, "how many times better than proportional", with target 1 / 1.25 = 0.8).
``--quick`` divides every size by 10; ``--only image,text`` picks domains.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import generate, pairs_command, report_memory_growth, run_with_peak  # noqa: E402


def make_images(root: Path, n: int) -> str:
    from PIL import Image

    rng = np.random.default_rng(0)
    base = rng.integers(30, 220, (4, 3))
    yy, xx = np.mgrid[0:80, 0:80]
    for k in range(4):
        (root / f"c{k}").mkdir()
    for i in range(n):
        k = i % 4
        phase = rng.uniform(0, 6.28)
        wave = 40 * np.sin(xx / (4 + k) + phase)[..., None] * np.cos(yy / 7 + phase)[..., None]
        arr = np.clip(base[k] + wave, 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(root / f"c{k}" / f"{i:06d}.png", compress_level=1)
    return f"images:{root}@64"


def make_audio(root: Path, minutes: float) -> str:
    import soundfile as sf

    rng = np.random.default_rng(0)
    sr, files = 16000, 24
    seconds = minutes * 60 / files
    for k in range(2):
        (root / f"c{k}").mkdir()
    for i in range(files):
        k = i % 2
        t = np.arange(int(seconds * sr)) / sr
        tone = 0.3 * np.sin(2 * math.pi * (220 + 220 * k) * t) + 0.02 * rng.standard_normal(len(t))
        sf.write(root / f"c{k}" / f"{i:02d}.wav", tone.astype(np.float32), sr, subtype="PCM_16")
    return f"audio:{root}"


def make_text(root: Path, n: int) -> str:
    words = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "green", "quick", "slow"]
    rng = np.random.default_rng(0)
    path = root / "corpus.txt"
    with open(path, "w") as fh:
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            picks = rng.integers(0, len(words), (m, 12))
            labels = rng.integers(0, 2, m)
            for row, lab in zip(picks, labels):
                topic = ("river stone " if lab else "cloud green ") * 2
                fh.write(f"__label__{'ab'[lab]} {topic}{' '.join(words[w] for w in row)}\n")
    return f"text:{path}"


def make_series(root: Path, gigabytes: float) -> str:
    t = 256
    n = int(gigabytes * 1e9 / (4 * t))
    path = root / "series.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 1, t))
    rng = np.random.default_rng(0)
    base = np.sin(np.linspace(0, 12, t, dtype=np.float32))
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        out[start : start + m, 0] = base + 0.3 * rng.standard_normal((m, t), dtype=np.float32)
    out.flush()
    del out
    return f"series:{path}"


def peak_of_run(spec: str, out: Path, max_steps: int, batch: int) -> tuple[float, float, dict]:
    """(peak RSS in MB, wall seconds, report) of one `pairs train` run in a child process."""
    cmd = pairs_command("train", "--data", spec, "--epochs", "1", "--max-steps", str(max_steps))
    cmd += ["--batch-size", str(batch), "--out", str(out), "--no-progress", "--json", "--workers", "1"]
    peak, seconds, lines = run_with_peak(cmd, f"pairs train on {spec}", timeout=3600)
    result = json.loads([ln for ln in lines if ln.startswith("{")][-1])
    return peak, seconds, result


CASES = {
    "image": (make_images, (20_000, 2_000), "images", 10, 64),
    "audio": (make_audio, (120.0, 12.0), "minutes of audio", 10, 32),
    "text": (make_text, (1_000_000, 100_000), "lines", 10, 128),
    "series": (make_series, (4.0, 0.4), "GB", 10, 8),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every size divided by 10")
    parser.add_argument("--only", default="image,audio,text,series", help="comma-separated domains")
    args = parser.parse_args()
    status = 0
    for domain in args.only.split(","):
        make, (large, small), unit, steps, batch = CASES[domain]
        if args.quick:
            large, small = type(large)(large / 10), type(small)(small / 10)
        with tempfile.TemporaryDirectory(prefix=f"pairs-mem-{domain}-") as tmp:
            peaks = {}
            for name, size in (("small", small), ("large", large)):
                folder = Path(tmp) / name
                spec, made = generate(folder, make, size)
                peak, seconds, result = peak_of_run(spec, folder / "run", steps, batch)
                peaks[name] = peak
                figures = {k: v for k, v in result.items() if k.endswith("_acc")}
                print(
                    f"{domain} {name}: {size} {unit} (generated in {made:.0f} s): peak RSS {peak:.0f} MB, "
                    f"run {seconds:.0f} s, {result['steps']} steps, {figures}",
                    flush=True,
                )
        ratio = peaks["large"] / peaks["small"]
        large_mb, small_mb = peaks["large"], peaks["small"]
        print(
            f"{domain}: peak RSS {large_mb:.0f} MB vs {small_mb:.0f} MB, ratio {ratio:.3f} (target <= 1.25)"
        )
        status |= report_memory_growth(
            "memory_scale",
            f"{domain} {large} vs {small} {unit}",
            large_mb,
            small_mb,
            "MB peak RSS (ours = large collection, anchor = 10x smaller)",
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
