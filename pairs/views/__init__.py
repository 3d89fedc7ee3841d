"""Views: seeded, batched random transformations per domain, all following :mod:`pairs.views.base`.

Domain modules (``image``, ``temporal``, ``graph``, ``text``, ``audio``) are imported on first access, so
``import pairs.views`` does not pull in torchvision, torch_geometric or nltk.
"""

from __future__ import annotations

import importlib
from typing import Any

from pairs.views.base import Compose, Lambda, OneOf, Params, RandomApply, View, make_generator

_DOMAINS = ("image", "temporal", "graph", "text", "audio")


def __getattr__(name: str) -> Any:
    if name in _DOMAINS:
        return importlib.import_module(f"pairs.views.{name}")
    raise AttributeError(f"module 'pairs.views' has no attribute {name!r}")


__all__ = ["Compose", "Lambda", "OneOf", "Params", "RandomApply", "View", "make_generator", *_DOMAINS]
