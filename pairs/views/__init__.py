"""Views: seeded, batched random transformations per domain, all following :mod:`pairs.views.base`.

Domain modules (``image``, ``temporal``, ``graph``, ``text``, ``audio``, and any new one of this package) are
imported on first access (``pairs.views.graph``), so ``import pairs.views`` does not pull in torchvision,
torch_geometric or nltk; nothing lists them by hand.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from pairs.views.base import Compose, Lambda, OneOf, Params, RandomApply, View, make_generator


def __getattr__(name: str) -> Any:
    """Import a module of the package on first access (PEP 562), e.g. ``pairs.views.graph``."""
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'pairs.views' has no attribute {name!r}")


__all__ = ["Compose", "Lambda", "OneOf", "Params", "RandomApply", "View", "make_generator"]
