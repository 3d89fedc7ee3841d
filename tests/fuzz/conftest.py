"""Print the fuzz counts (cases per outcome, failures by kind) in the terminal summary."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.fuzz.targets import COUNTS, FAILURES

    if not COUNTS:
        return
    tr = terminalreporter
    tr.section("fuzz")
    tr.write_line(f"cases run: {sum(COUNTS.values())}")
    for kind, n in sorted(COUNTS.items()):
        tr.write_line(f"  {kind}: {n}")
    tr.write_line(f"failures: {sum(FAILURES.values())}")
    for kind, n in sorted(FAILURES.items()):
        tr.write_line(f"  {kind}: {n}")
