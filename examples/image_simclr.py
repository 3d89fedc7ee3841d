"""SimCLR on sklearn's digits (real, offline data), evaluated by a linear probe and kNN on held-out digits.

Runs the library's pieces by hand (the same thing `pairs train` does with its defaults):

    python examples/image_simclr.py --epochs 40

Prints the linear-probe and kNN accuracy of the trained encoder beside a randomly initialised encoder of
the same architecture, probed the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _simclr import run_simclr  # noqa: E402


def main() -> None:
    run_simclr(__doc__, "digits")


if __name__ == "__main__":
    main()
