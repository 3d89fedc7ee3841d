"""Run every benchmark script and print a table of their results.

Each ``benchmarks/bench_*.py`` script compares our code with an anchor library (or a hand-written
baseline) in one process and prints, among its own output, lines of the form::

    RESULT {"benchmark": "...", "case": "...", "ours": ..., "anchor": ..., "unit": "ms",
            "ratio": ..., "target": ..., "ok": true}            (on one line)

where ``ratio`` is "how many times better we are" (anchor time / our time, or our throughput / theirs).
This runner executes the scripts one after another (so they do not compete for the cores), collects the
RESULT lines and prints them as one table. Usage::

    python benchmarks/run.py                 # every script
    python benchmarks/run.py trainer ntxent  # scripts whose name contains one of these words
    python benchmarks/run.py --quick         # pass --quick to scripts (smaller sizes), where supported
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_script(path: Path, quick: bool) -> tuple[list[dict], int, float, str]:
    cmd = [sys.executable, str(path)] + (["--quick"] if quick else [])
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
    seconds = time.perf_counter() - start
    results = []
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            results.append(json.loads(line[len("RESULT ") :]))
    return results, proc.returncode, seconds, proc.stdout + proc.stderr


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("only", nargs="*", help="run scripts whose file name contains one of these words")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, where a script supports it")
    parser.add_argument("--verbose", action="store_true", help="print each script's full output")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(word in s.name for word in args.only)]
    if not scripts:
        print("no benchmark scripts matched", file=sys.stderr)
        return 2
    rows, failures = [], 0
    for script in scripts:
        print(f"running {script.name} ...", flush=True)
        results, code, seconds, output = run_script(script, args.quick)
        if args.verbose or code != 0:
            print(output)
        if code != 0:
            failures += 1
            rows.append({"benchmark": script.stem, "case": f"FAILED (exit {code})"})
        if code == 0 and not results:
            rows.append({"benchmark": script.stem, "case": "no RESULT lines"})
        rows.extend(results)
        print(f"  done in {seconds:.1f} s", flush=True)
    columns = ["benchmark", "case", "ours", "anchor", "unit", "ratio", "target", "ok"]
    table = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(columns)]
    print()
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    missed = [r for r in rows if r.get("ok") is False]
    print(f"\n{len(rows)} results, {len(missed)} below target, {failures} scripts failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
