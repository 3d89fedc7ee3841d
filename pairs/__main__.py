"""``python -m pairs`` runs the ``pairs`` command."""

import sys

from pairs.cli import main

sys.exit(main())
