"""Helpers shared by benchmark scripts: timing medians, the RESULT line the runner collects, and child
processes of ``pairs`` measured for their peak memory."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def median_seconds(fn: Callable[[], object], repeats: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(
    benchmark: str,
    case: str,
    ours: float,
    anchor: float,
    unit: str,
    ratio: float,
    target: float | None = None,
    **extra: object,
) -> None:
    """Print one RESULT line (``ratio`` = how many times better we are; ``ok`` = ratio >= target)."""
    ok = None if target is None else bool(ratio >= target)
    record = {
        "benchmark": benchmark,
        "case": case,
        "ours": ours,
        "anchor": anchor,
        "unit": unit,
        "ratio": round(ratio, 3),
        "target": target,
        "ok": ok,
        **extra,
    }
    print("RESULT " + json.dumps(record), flush=True)


def report_ratio(
    benchmark: str,
    case: str,
    ours: float,
    anchor: float,
    unit: str,
    *,
    digits: int,
    lower_is_better: bool = False,
    target: float | None = None,
    **extra: object,
) -> None:
    """:func:`report` of ours against the anchor, both rounded to ``digits`` decimals, with the ratio of the
    unrounded figures oriented so that above 1 means ours is better: ``ours / anchor``, or ``anchor / ours``
    for a figure where lower is better (seconds, megabytes)."""
    ratio = anchor / ours if lower_is_better else ours / anchor
    report(benchmark, case, round(ours, digits), round(anchor, digits), unit, ratio, target=target, **extra)


def report_memory_growth(
    benchmark: str, case: str, large_mb: float, small_mb: float, unit: str, **extra: object
) -> int:
    """:func:`report` of a memory-scaling figure: the peak MB of a run on a large collection (ours) against
    the same run on a 10x smaller one (anchor), with ``large_over_small`` first among the extras.

    The target is ``large / small <= 1.25`` (the ratio reported, ``small / large``, at least 0.8).

    Returns:
        1 when the large run grew past the bound, else 0 (to or into the script's exit status).
    """
    ratio = large_mb / small_mb
    report_ratio(
        benchmark,
        case,
        large_mb,
        small_mb,
        unit,
        digits=1,
        lower_is_better=True,
        target=0.8,
        large_over_small=round(ratio, 3),
        **extra,
    )
    return int(ratio > 1.25)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation of a figure over seeds (standard deviation 0 for one seed)."""
    return statistics.mean(values), (statistics.pstdev(values) if len(values) > 1 else 0.0)


def proc_status_bytes(key: str) -> int:
    """A ``/proc/self/status`` entry (``VmSize``, ``VmRSS``, ``VmHWM``) in bytes; 0 if absent."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


ROOT = Path(__file__).resolve().parent.parent

PEAK_WRAPPER = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
)
"""``python -c PEAK_WRAPPER CMD...`` runs CMD, then prints the peak RSS of its largest process and its exit
code."""


def pairs_command(*args: str) -> list[str]:
    """``python -m pairs ARGS...`` with this interpreter."""
    return [sys.executable, "-m", "pairs", *args]


def run_with_peak(cmd: list[str], what: str, timeout: float | None = None) -> tuple[float, float, list[str]]:
    """Run ``cmd`` from the repository root in a fresh :data:`PEAK_WRAPPER` process.

    Returns:
        ``(peak RSS in MB of the largest process of the run, wall seconds, stdout lines)``.

    Raises:
        SystemExit: naming ``what``, with the end of the output, when the command failed.
    """
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_WRAPPER, *cmd],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    seconds = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    peak = [ln for ln in lines if ln.startswith("PEAK_KB")]
    if not peak or not peak[-1].endswith(" 0"):
        raise SystemExit(f"{what} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return int(peak[-1].split()[1]) / 1024, seconds, lines


def generate(folder: Path, make: Callable[[Path, Any], str], size: Any) -> tuple[str, float]:
    """Run ``make(folder / "data", size)`` in that new folder; returns (the data spec, seconds taken)."""
    (folder / "data").mkdir(parents=True)
    start = time.perf_counter()
    spec = make(folder / "data", size)
    return spec, time.perf_counter() - start
