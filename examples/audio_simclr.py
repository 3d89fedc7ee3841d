"""SimCLR on real speech (Debian's pocketsphinx-testdata), evaluated by a linear probe and kNN.

Needs ``apt-get install pocketsphinx-testdata`` (14 real 16 kHz clips, ~46 s, cut into 1 s windows).
The labels are recording sets (LibriVox narrator / cards speaker / command clips), so the probe asks
whether the features separate speakers and recording conditions; with 32 training windows it is a small,
noisy proxy. Runs the library's pieces by hand (the same thing ``pairs train --data speech`` does):

    python examples/audio_simclr.py --epochs 30

Prints the probe and kNN accuracy of the trained log-mel CNN beside the same network untrained.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _simclr import run_simclr  # noqa: E402


def main() -> None:
    run_simclr(__doc__, "speech")


if __name__ == "__main__":
    main()
