"""Encoders and heads for every domain, built by name.

>>> import encoders
>>> net = encoders.get("resnet18_cifar")
>>> net.out_dim
512
>>> encoders.available(domain="head")
['mlp_head', 'prediction_head']

Domain modules register their factories with :func:`encoders.register` when they are imported. This
package imports ``image`` and ``heads``; the other domain modules listed in ``_DOMAIN_MODULES`` (when
present) are imported on the first registry lookup, so ``encoders.get(name)`` sees every built-in encoder
while ``import encoders`` stays light.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from encoders import heads, image, registry
from encoders.heads import PredictionHead, ProjectionHead
from encoders.image import ResNetEncoder, SmallCNN, resnet18, resnet18_cifar
from encoders.registry import EncoderInfo, accepted_arguments, available, defer_import, get, info, register

# Domain modules written separately; each registers its encoders on import. They are imported on the
# first registry lookup (get/available/info) or attribute access (encoders.graph), not by
# ``import encoders``, so their heavy dependencies load only when needed. Missing modules are skipped.
_DOMAIN_MODULES = ("text", "audio", "graph", "temporal")
_PRESENT = tuple(m for m in _DOMAIN_MODULES if importlib.util.find_spec(f"{__name__}.{m}") is not None)
registry.defer_import(*(f"{__name__}.{m}" for m in _PRESENT))


def __getattr__(name: str) -> Any:
    """Import a domain module on first access (PEP 562), e.g. ``encoders.graph``."""
    if name in _PRESENT:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EncoderInfo",
    "PredictionHead",
    "ProjectionHead",
    "ResNetEncoder",
    "SmallCNN",
    "accepted_arguments",
    "available",
    "defer_import",
    "get",
    "heads",
    "image",
    "info",
    "register",
    "registry",
    "resnet18",
    "resnet18_cifar",
]
