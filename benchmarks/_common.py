"""Helpers shared by benchmark scripts: timing medians and the RESULT line the runner collects."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable


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


def proc_status_bytes(key: str) -> int:
    """A ``/proc/self/status`` entry (``VmSize``, ``VmRSS``, ``VmHWM``) in bytes; 0 if absent."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0
