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

import encoders  # noqa: E402
from pairs.domains.image import small_image_view  # noqa: E402


def main() -> None:
    # digits: (1347, 1, 8, 8) train / (450, 1, 8, 8) held-out, stratified
    run_simclr(
        __doc__,
        "digits",
        lambda digits: encoders.get("small_cnn", in_channels=1, width=32),
        lambda digits: small_image_view(8),
        epochs=40,
        batch_size=256,
        lr=2e-3,
        k=20,
    )


if __name__ == "__main__":
    main()
