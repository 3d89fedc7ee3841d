"""NT-Xent speed and peak memory: pairs vs lightly vs pytorch-metric-learning, on CPU.

What is compared: the SimCLR loss on two views ``z1, z2`` of shape ``(B, D)`` (rows ``2B``), cosine
similarity, temperature 0.5 (lightly's default), forward + backward:

* ours:    ``pairs.losses.nt_xent(z1, z2, temperature=0.5)`` (``mode="auto"``);
* lightly: ``lightly.loss.NTXentLoss(temperature=0.5)(z1, z2)``;
* pml:     ``pytorch_metric_learning.losses.NTXentLoss(temperature=0.5)(cat(z1, z2), arange(B).repeat(2))``.

All three compute the same number; the script checks ours against lightly (and pml where it runs) on
the same input before timing.

Time: in one process, ours and lightly alternate, ``--repeats`` times after a warm-up; the median is
reported. pml is timed in its own capped subprocess (it may not fit in memory).

Peak memory: every (library, size) runs once in a fresh subprocess that builds the inputs, resets the
kernel's peak-RSS mark (``/proc/self/clear_refs``), runs forward + backward and reads the peak resident
set size (``VmHWM``, the value ``getrusage(RUSAGE_SELF).ru_maxrss`` reports; it sees CPU tensors
whatever allocator made them); peak minus the RSS at the reset is the memory above the inputs.
Each subprocess gets an address-space limit (``RLIMIT_AS``) of its size after start-up plus
``--cap-gb``, so a library that needs more fails with an allocation error (reported as OOM) instead
of taking the machine down.

Usage:
    python benchmarks/bench_ntxent.py                 # full table (takes a few minutes on 2 cores)
    python benchmarks/bench_ntxent.py --quick         # small sizes only
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._common import proc_status_bytes  # noqa: E402

TEMPERATURE = 0.5


# --------------------------------------------------------------------------------------------------
# the three losses
# --------------------------------------------------------------------------------------------------
def make_loss(lib: str):
    """Return ``fn(z1, z2) -> loss`` for ``lib`` in {"ours", "lightly", "pml"}."""
    import torch

    if lib == "ours":
        from pairs.losses import nt_xent

        return lambda z1, z2: nt_xent(z1, z2, temperature=TEMPERATURE)
    if lib == "lightly":
        from lightly.loss import NTXentLoss

        mod = NTXentLoss(temperature=TEMPERATURE)
        return lambda z1, z2: mod(z1, z2)
    if lib == "pml":
        from pytorch_metric_learning.losses import NTXentLoss

        mod = NTXentLoss(temperature=TEMPERATURE)

        def pml(z1, z2):
            b = z1.shape[0]
            return mod(torch.cat([z1, z2]), torch.arange(b, device=z1.device).repeat(2))

        return pml
    raise ValueError(f"unknown library {lib!r}")


def make_inputs(two_b: int, dim: int, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(two_b // 2, dim, generator=g).requires_grad_(True)
    z2 = torch.randn(two_b // 2, dim, generator=g).requires_grad_(True)
    return z1, z2


def reset_peak_rss() -> tuple[int, str]:
    """Reset the peak-RSS high-water mark to the current RSS; return ``(baseline bytes, method)``.

    ``ru_maxrss`` alone is not enough: it also holds the peak of start-up (imports) and, after
    fork + exec, can inherit the parent's peak, which hides anything smaller. Writing ``5`` to
    ``/proc/self/clear_refs`` (Linux >= 4.0) resets the high-water mark; where that is not allowed
    the baseline is the current ``ru_maxrss`` instead.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return proc_status_bytes("VmRSS"), "VmHWM after resetting it via /proc/self/clear_refs"
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ru_maxrss delta"


def peak_rss() -> int:
    """Peak RSS in bytes since the last reset (``VmHWM``, or ``ru_maxrss`` where it is missing)."""
    return proc_status_bytes("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --------------------------------------------------------------------------------------------------
# child process: one library, one size
# --------------------------------------------------------------------------------------------------
def child(lib: str, two_b: int, dim: int, threads: int, cap_gb: float, repeats: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    fn = make_loss(lib)
    z1, z2 = make_inputs(two_b, dim)
    a, b = make_inputs(8, dim, seed=1)  # warm up lazy initialisation (same for every library)
    fn(a, b).backward()
    if cap_gb > 0:
        limit = proc_status_bytes("VmSize") + int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    base, method = reset_peak_rss()
    out: dict = {"lib": lib, "two_b": two_b, "method": method}
    try:
        times = []
        for _ in range(repeats):
            z1.grad = z2.grad = None
            t0 = time.perf_counter()
            loss = fn(z1, z2)
            loss.backward()
            times.append(time.perf_counter() - t0)
            del loss
        out["ms"] = statistics.median(times) * 1e3
        out["peak_mb"] = (peak_rss() - base) / 2**20
        out["ok"] = True
    except (RuntimeError, MemoryError) as e:  # allocation refused under the cap
        out["ok"] = False
        out["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    return out


def run_child(lib: str, two_b: int, args, repeats: int = 1) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        lib,
        str(two_b),
        "--dim",
        str(args.dim),
        "--threads",
        str(args.threads),
        "--cap-gb",
        str(args.cap_gb),
        "--repeats",
        str(repeats),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"lib": lib, "two_b": two_b, "ok": False, "error": f"exit {proc.returncode}: {tail[:120]}"}
    return json.loads(lines[-1])


# --------------------------------------------------------------------------------------------------
# in-process timing of ours vs lightly
# --------------------------------------------------------------------------------------------------
def time_pair(two_b: int, args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    ours, lightly = make_loss("ours"), make_loss("lightly")
    z1, z2 = make_inputs(two_b, args.dim)
    with torch.no_grad():
        a, b = float(ours(z1, z2)), float(lightly(z1, z2))
    rel = abs(a - b) / abs(b)
    fns = {"ours": ours, "lightly": lightly}
    times: dict[str, list[float]] = {"ours": [], "lightly": []}
    for i in range(args.warmup + args.repeats):
        for name in ("ours", "lightly") if i % 2 == 0 else ("lightly", "ours"):
            z1.grad = z2.grad = None
            t0 = time.perf_counter()
            fns[name](z1, z2).backward()
            dt = time.perf_counter() - t0
            if i >= args.warmup:
                times[name].append(dt)
    return {
        "ours_ms": statistics.median(times["ours"]) * 1e3,
        "lightly_ms": statistics.median(times["lightly"]) * 1e3,
        "ours_value": a,
        "lightly_value": b,
        "rel_diff": rel,
    }


def pml_estimate_gb(two_b: int) -> float:
    """pml builds a (positive pairs) x (negative pairs) matrix: 2B x 2B(2B-2) float32 entries, per copy."""
    return two_b * two_b * (two_b - 2) * 4 / 2**30


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", nargs=2, metavar=("LIB", "TWO_B"), help=argparse.SUPPRESS)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7, help="timed repeats per size (median reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument(
        "--cap-gb", type=float, default=12.0, help="address-space cap above start-up per subprocess"
    )
    p.add_argument("--speed-sizes", type=int, nargs="*", default=[512, 1024, 2048, 4096])
    p.add_argument("--memory-sizes", type=int, nargs="*", default=[512, 1024, 2048, 4096, 8192, 32768])
    p.add_argument("--pml-sizes", type=int, nargs="*", default=[256, 512, 1024, 2048])
    p.add_argument("--quick", action="store_true", help="speed 512/1024, memory 512/1024, pml 256/512")
    args = p.parse_args()

    if args.child:
        lib, two_b = args.child[0], int(args.child[1])
        print(json.dumps(child(lib, two_b, args.dim, args.threads, args.cap_gb, args.repeats)))
        return
    if args.quick:
        args.speed_sizes, args.memory_sizes, args.pml_sizes = [512, 1024], [512, 1024], [256, 512]

    import torch

    from pairs.losses.tiled import AUTO_DENSE_MAX_BYTES, DEFAULT_BLOCK_COLS, DEFAULT_BLOCK_ROWS

    print(
        f"# NT-Xent forward+backward, D={args.dim}, float32, CPU, torch {torch.__version__}, "
        f"threads={args.threads}"
    )
    print(
        f"# ours: mode='auto' (dense while the 2B x 2B logits <= {AUTO_DENSE_MAX_BYTES / 2**20:g} MiB, "
        f"tiled above with blocks {DEFAULT_BLOCK_ROWS}x{DEFAULT_BLOCK_COLS}); temperature {TEMPERATURE}"
    )
    print(
        f"# time: median of {args.repeats} runs after {args.warmup} warm-up, ours and lightly alternating "
        "in one process; pml timed in its own subprocess"
    )
    print(
        "# peak memory: peak RSS (VmHWM) during forward+backward minus RSS after building the inputs "
        "(high-water mark reset via /proc/self/clear_refs), one fresh subprocess per (library, 2B), "
        f"address space capped at start-up + {args.cap_gb:g} GB"
    )
    print()

    rows = {}
    for n in args.speed_sizes:
        r = time_pair(n, args)
        rows[n] = r
        print(
            f"2B={n}: same value: ours {r['ours_value']:.7f} lightly {r['lightly_value']:.7f} "
            f"(rel diff {r['rel_diff']:.1e}); ours {r['ours_ms']:.1f} ms, lightly {r['lightly_ms']:.1f} ms",
            flush=True,
        )

    pml = {}
    for n in sorted(set(args.pml_sizes) | set(args.speed_sizes)):
        if n not in args.pml_sizes:
            pml[n] = "skipped"
            continue
        r = run_child("pml", n, args, repeats=3)
        pml[n] = f"{r['ms']:.1f}" if r["ok"] else f"OOM at {args.cap_gb:g} GB cap"
        print(f"pml 2B={n}: {pml[n]}  {r.get('error', '')}", flush=True)

    mem = {}
    for n in args.memory_sizes:
        for lib in ("ours", "lightly"):
            r = run_child(lib, n, args, repeats=1)
            mem[(lib, n)] = r
            state = f"{r['peak_mb']:.0f} MB, {r['ms']:.0f} ms" if r["ok"] else r["error"]
            print(f"memory {lib:7s} 2B={n}: {state}", flush=True)

    def fmt_mem(lib: str, n: int) -> str:
        r = mem.get((lib, n))
        if r is None:
            return "-"
        return f"{r['peak_mb']:.0f}" if r["ok"] else f">{args.cap_gb * 1024:.0f} (OOM)"

    print()
    header = (
        f"{'2B':>6} | {'ours ms':>9} | {'lightly ms':>10} | {'ratio':>6} | {'pml ms':>22} | "
        f"{'ours peak MB':>12} | {'lightly peak MB':>15} | {'mem ratio':>9}"
    )
    print(header)
    print("-" * len(header))
    for n in sorted(set(args.speed_sizes) | set(args.memory_sizes)):
        t = rows.get(n)
        ours_ms = f"{t['ours_ms']:.1f}" if t else "-"
        light_ms = f"{t['lightly_ms']:.1f}" if t else "-"
        ratio = f"{t['lightly_ms'] / t['ours_ms']:.2f}" if t else "-"
        if t is None and (("ours", n) in mem):  # single-run time from the memory subprocess
            mo, ml = mem[("ours", n)], mem[("lightly", n)]
            ours_ms = f"{mo['ms']:.0f} (1 run)" if mo["ok"] else "-"
            light_ms = f"{ml['ms']:.0f} (1 run)" if ml["ok"] else "OOM"
            ratio = f"{ml['ms'] / mo['ms']:.2f}" if mo["ok"] and ml["ok"] else "-"
        mo, ml = mem.get(("ours", n)), mem.get(("lightly", n))
        mem_ratio = "-"
        if mo and ml and mo["ok"]:
            light_mb = ml["peak_mb"] if ml["ok"] else args.cap_gb * 1024
            mem_ratio = ("" if ml["ok"] else ">") + f"{light_mb / max(mo['peak_mb'], 1):.1f}"
        print(
            f"{n:>6} | {ours_ms:>9} | {light_ms:>10} | {ratio:>6} | {pml.get(n, 'skipped'):>22} | "
            f"{fmt_mem('ours', n):>12} | {fmt_mem('lightly', n):>15} | {mem_ratio:>9}"
        )
    print()
    print("ratio = lightly ms / ours ms (> 1: ours faster); mem ratio = lightly peak / ours peak")
    if pml:
        print(
            "pml: pytorch-metric-learning's NTXentLoss materialises a (2B) x 2B(2B-2) pair matrix several "
            "times; est. GB per copy: " + ", ".join(f"2B={n}: {pml_estimate_gb(n):.1f}" for n in sorted(pml))
        )


if __name__ == "__main__":
    main()
