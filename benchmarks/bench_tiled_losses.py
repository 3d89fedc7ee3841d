"""Tiled losses at the rate of their matrix products: NT-Xent at 2B = 32,768 and TS2Vec's hierarchical loss.

**NT-Xent** (issue 19, "Must reach": the tiled path at 2B = 32,768, D = 128, forward + backward, at least
0.75x the dense path's GFLOP/s measured in the same run, peak memory under 256 MB above the inputs).

* FLOPs are counted the same way for every path: ``6 * N * M * D`` per forward + backward with
  ``N = M = 2B`` rows and candidates, i.e. the three ``(N, D) x (D, M)`` products of the dense path (one
  forward, two backward). Element-wise work (``exp``, masks) is not counted. The tiled self-similarity
  path actually multiplies ``4 N^2 D`` (it computes each pair of tiles once and recomputes in backward),
  the general tiled path ``8 N M D``; both are credited with the same ``6 N M D``, so "GFLOP/s" here is
  the rate at which the loss's arithmetic gets done.
* dense: ``nt_xent(z1, z2, mode="dense")`` at 2B = ``--dense-size`` (4,096: the largest size the auto
  switch sends to the dense path, 64 MiB of logits); tiled: ``nt_xent(z1, z2)`` (auto, which is tiled
  there) at 2B = ``--size``. Both in this process, timed alternately (dense ``--dense-repeats`` times
  around each tiled run), medians reported. With ``--general``, an extra line times the general tiled
  path once (rows and columns not the same tensor: ``info_nce`` with in-batch keys, 2B queries against
  2B keys), for reference.
* threads: ``--threads`` (2) intra-op threads; the tiled paths spread their tiles over that many worker
  threads with one intra-op thread each (see ``pairs.losses.tiled._run_tiles``), the dense path uses the
  intra-op threads in every operation.
* peak memory: a fresh subprocess builds the inputs, resets the kernel's peak-RSS mark
  (``/proc/self/clear_refs``), runs forward + backward once and reads ``VmHWM``; peak minus the RSS at
  the reset is the memory above the inputs (it sees every CPU allocation, whatever the allocator).

**Hierarchical loss** (TS2Vec): ``hierarchical_contrastive_loss`` (auto: dense while a term's logits fit
64 MiB, tiled above) against the reference code (``models/losses.py`` of zhihanyue/ts2vec, transcribed
below term for term, as in the tests), forward + backward on ``(B, T, D) = (8, T, 320)`` (TS2Vec's batch
and output size), same values checked first; peak memory above the inputs in fresh subprocesses, the
reference's under an address-space cap (``--cap-gb``) so that it fails cleanly instead of taking the
machine down.

Usage::

    python benchmarks/bench_tiled_losses.py            # 2B = 32,768 and T up to 3,000 (a few minutes)
    python benchmarks/bench_tiled_losses.py --threads 1 --clock cpu   # CPU time, robust to a busy machine
    python benchmarks/bench_tiled_losses.py --quick    # 2B = 8,192, T up to 500
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

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))
from _common import proc_status_bytes, report, report_ratio  # noqa: E402

from pairs.losses import hierarchical_contrastive_loss, info_nce, nt_xent  # noqa: E402
from pairs.losses.tiled import AUTO_DENSE_MAX_BYTES, DEFAULT_BLOCK_COLS, DEFAULT_BLOCK_ROWS  # noqa: E402
from tests.reference_ts2vec import ref_hierarchical  # noqa: E402  (the TS2Vec reference code, transcribed)

TEMPERATURE = 0.5
MEMORY_BOUND_MB = 256.0


# --------------------------------------------------------------------------------------------------
# the cases: name -> (make inputs, run forward + backward)
# --------------------------------------------------------------------------------------------------
def nt_inputs(two_b: int, dim: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(two_b // 2, dim, generator=g).requires_grad_(True) for _ in range(2)]


def series_inputs(b: int, t: int, dim: int, seed: int = 0) -> list[torch.Tensor]:
    """Two encodings of the same timestamps: a shared signal plus independent noise (scaled as trained
    TS2Vec representations roughly are: O(1) entries)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(b, t, dim, generator=g) * 0.1
    return [(base + 0.05 * torch.randn(b, t, dim, generator=g)).requires_grad_(True) for _ in range(2)]


RUNNERS = {
    "dense": lambda a, b: nt_xent(a, b, temperature=TEMPERATURE, mode="dense"),
    "tiled": lambda a, b: nt_xent(a, b, temperature=TEMPERATURE),
    "general": lambda a, b: info_nce(a, b, temperature=TEMPERATURE, mode="tiled"),
    "hier_ours": lambda a, b: hierarchical_contrastive_loss(a, b),
    "hier_ref": ref_hierarchical,
}


def make_case(name: str, size: int, dim: int) -> list[torch.Tensor]:
    if name.startswith("hier"):
        return series_inputs(8, size, dim)
    return nt_inputs(size, dim)


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def step(name: str, xs: list[torch.Tensor]) -> float:
    """One forward + backward; its time in seconds (wall, or process CPU time with ``--clock cpu``)."""
    for x in xs:
        x.grad = None
    t0 = clock()
    RUNNERS[name](*xs).backward()
    return clock() - t0


# --------------------------------------------------------------------------------------------------
# peak memory in a fresh process
# --------------------------------------------------------------------------------------------------
def child(name: str, size: int, dim: int, threads: int, cap_gb: float) -> dict:
    torch.set_num_threads(threads)
    xs = make_case(name, size, dim)
    warm = make_case(name, 64, dim)  # lazy initialisation outside the measured window
    step(name, warm)
    if cap_gb > 0:
        limit = proc_status_bytes("VmSize") + int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with open("/proc/self/clear_refs", "w") as f:  # peak-RSS mark := current RSS
        f.write("5")
    base = proc_status_bytes("VmRSS")
    try:
        seconds = step(name, xs)
    except (RuntimeError, MemoryError) as e:
        return {"ok": False, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:100]}"}
    return {"ok": True, "peak_mb": (proc_status_bytes("VmHWM") - base) / 2**20, "seconds": seconds}


def peak_memory(name: str, size: int, args) -> dict:
    cmd = [sys.executable, __file__, "--child", name, str(size), "--dim", str(args.dim)]
    cmd += ["--threads", str(args.threads), "--cap-gb", str(args.cap_gb)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"ok": False, "error": f"exit {proc.returncode}: {tail[:100]}"}
    return json.loads(lines[-1])


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------
def gflops(n: int, dim: int, seconds: float) -> float:
    return 6 * n * n * dim / seconds / 1e9


def bench_ntxent(args) -> None:
    n, nd, dim = args.size, args.dense_size, args.dim
    dense_x, tiled_x = nt_inputs(nd, dim), nt_inputs(n, dim)
    with torch.no_grad():  # the same loss on the same input, both paths (at the dense size)
        a = float(nt_xent(*dense_x, temperature=TEMPERATURE, mode="dense"))
        b = float(nt_xent(*dense_x, temperature=TEMPERATURE, mode="tiled"))
    print(f"check at 2B={nd}: dense {a:.7f}, tiled {b:.7f} (rel diff {abs(a - b) / abs(a):.1e})")
    step("dense", dense_x)
    step("tiled", nt_inputs(min(n, 4096), dim))  # warm-up
    times: dict[str, list[float]] = {"dense": [], "tiled": []}
    for _ in range(args.repeats):
        times["dense"] += [step("dense", dense_x) for _ in range(args.dense_repeats)]
        times["tiled"].append(step("tiled", tiled_x))
        print(f"  tiled 2B={n}: {times['tiled'][-1]:.2f} s", flush=True)
    times["dense"] += [step("dense", dense_x) for _ in range(args.dense_repeats)]
    dense_s, tiled_s = statistics.median(times["dense"]), statistics.median(times["tiled"])
    dense_rate, tiled_rate = gflops(nd, dim, dense_s), gflops(n, dim, tiled_s)
    mem = peak_memory("tiled", n, args)
    mem_dense = peak_memory("dense", nd, args)
    peak = mem["peak_mb"] if mem["ok"] else float("nan")
    print(
        f"NT-Xent fwd+bwd, D={dim}: dense 2B={nd}: {dense_s * 1e3:.0f} ms = {dense_rate:.1f} GFLOP/s "
        f"(peak {mem_dense.get('peak_mb', float('nan')):.0f} MB above inputs); "
        f"tiled 2B={n}: {tiled_s:.2f} s = "
        f"{tiled_rate:.1f} GFLOP/s, ratio {tiled_rate / dense_rate:.2f} (target >= 0.75), peak {peak:.0f} MB "
        f"above inputs (bound {MEMORY_BOUND_MB:g} MB)",
        flush=True,
    )
    report_ratio(
        "tiled_losses",
        f"nt_xent tiled 2B={n} vs dense 2B={nd}, D={dim} (GFLOP/s = 6 N^2 D / s)",
        tiled_rate,
        dense_rate,
        "GFLOP/s",
        digits=2,
        target=0.75,
        tiled_seconds=round(tiled_s, 3),
        dense_ms=round(dense_s * 1e3, 1),
    )
    report(
        "tiled_losses",
        f"nt_xent tiled 2B={n}, D={dim}: peak MB above inputs vs the {MEMORY_BOUND_MB:g} MB bound",
        round(peak, 1),
        MEMORY_BOUND_MB,
        "MB",
        MEMORY_BOUND_MB / peak if peak == peak and peak > 0 else 0.0,
        target=1.0,
    )
    if args.general:
        gx = nt_inputs(2 * n, dim)  # n queries and n keys
        gs = step("general", gx)
        print(
            f"general tiled path (info_nce, {n} queries x {n} keys, rows != cols, 8 N M D FLOPs "
            f"done): {gs:.2f} s = {gflops(n, dim, gs):.1f} GFLOP/s (same 6 N M D count, N = M = {n})",
            flush=True,
        )


def bench_hierarchical(args) -> None:
    dim = args.series_dim
    for t in args.series_lengths:
        xs = series_inputs(8, t, dim)
        with torch.no_grad():
            a, b = float(hierarchical_contrastive_loss(*xs)), float(ref_hierarchical(*xs))
        ours_mem = peak_memory("hier_ours", t, argparse.Namespace(**{**vars(args), "dim": dim}))
        ref_mem = peak_memory("hier_ref", t, argparse.Namespace(**{**vars(args), "dim": dim}))
        times: dict[str, list[float]] = {"hier_ours": [], "hier_ref": []}
        ref_fits = ref_mem["ok"] and t <= args.ref_max_length
        names = ("hier_ours", "hier_ref") if ref_fits else ("hier_ours",)
        for name in names:
            step(name, xs)  # warm-up
        for i in range(args.series_repeats):
            for name in names if i % 2 == 0 else names[::-1]:
                times[name].append(step(name, xs))
        ours = statistics.median(times["hier_ours"])
        ref = statistics.median(times["hier_ref"]) if ref_fits else float("nan")
        om = ours_mem.get("peak_mb", float("nan"))
        rm = ref_mem["peak_mb"] if ref_mem["ok"] else float("nan")
        ref_txt = f"{ref * 1e3:.0f} ms" if ref_fits else "not timed"
        ref_mem_txt = f"{rm:.0f} MB" if ref_mem["ok"] else f"failed under the {args.cap_gb:g} GB cap"
        print(
            f"hierarchical (8, {t}, {dim}) fwd+bwd: ours {ours * 1e3:.0f} ms, reference {ref_txt} "
            f"(same value: {a:.6f} vs {b:.6f}); peak above inputs: ours {om:.0f} MB, reference {ref_mem_txt}",
            flush=True,
        )
        if ref_fits:
            report(
                "tiled_losses",
                f"hierarchical loss (8, {t}, {dim}) fwd+bwd vs TS2Vec reference code",
                round(ours * 1e3, 1),
                round(ref * 1e3, 1),
                "ms",
                ref / ours,
                peak_mb_ours=round(om, 1),
                peak_mb_reference=round(rm, 1),
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", nargs=2, metavar=("CASE", "SIZE"), help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=32768, help="2B of the tiled NT-Xent run")
    p.add_argument("--dense-size", type=int, default=4096, help="2B of the dense NT-Xent run")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3, help="tiled runs (median reported)")
    p.add_argument("--dense-repeats", type=int, default=3, help="dense runs around each tiled run")
    p.add_argument("--general", action="store_true", help="also time the general (rows != cols) tiled path")
    p.add_argument("--series-lengths", type=int, nargs="*", default=[500, 1500, 3000])
    p.add_argument("--series-dim", type=int, default=320)
    p.add_argument("--series-repeats", type=int, default=3)
    p.add_argument(
        "--ref-max-length", type=int, default=1500, help="longest T at which the reference is timed"
    )
    p.add_argument("--cap-gb", type=float, default=6.0, help="address-space cap of a memory subprocess")
    p.add_argument("--skip-ntxent", action="store_true")
    p.add_argument("--skip-hierarchical", action="store_true")
    p.add_argument("--quick", action="store_true", help="2B = 8,192; T = 200, 500")
    p.add_argument(
        "--clock",
        choices=sorted(CLOCK),
        default="wall",
        help="wall time, or the process's CPU time (with --threads 1: the work itself, whatever else runs "
        "on the machine)",
    )
    args = p.parse_args()
    global clock
    clock = CLOCK[args.clock]
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.dim, args.threads, args.cap_gb)))
        return
    if args.quick:
        args.size, args.series_lengths = 8192, [200, 500]
    torch.set_num_threads(args.threads)
    print(
        f"# torch {torch.__version__}, CPU, threads={args.threads}, clock={args.clock}; "
        f"tiles {DEFAULT_BLOCK_ROWS}x{DEFAULT_BLOCK_COLS}, "
        f"auto switch at {AUTO_DENSE_MAX_BYTES / 2**20:g} MiB of logits; temperature {TEMPERATURE}"
    )
    if not args.skip_ntxent:
        bench_ntxent(args)
    if not args.skip_hierarchical:
        bench_hierarchical(args)


if __name__ == "__main__":
    main()
