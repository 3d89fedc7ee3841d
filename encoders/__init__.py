"""Encoders and heads for every domain, built by name.

>>> import encoders
>>> net = encoders.get("resnet18_cifar")
>>> net.out_dim
512
>>> encoders.available(domain="head")
['mlp_head', 'prediction_head']

Domain modules register their factories with :func:`encoders.register` when they are imported. This
package imports ``image`` and ``heads``; every other module of the package is found by a scan
(:class:`pairs.registry.Registry`) and imported on the first registry lookup, so ``encoders.get(name)``
sees every built-in encoder while ``import encoders`` stays light. A new domain's encoder module is found
as it is: nothing lists the modules by hand.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from encoders import heads, image, registry
from encoders.heads import PredictionHead, ProjectionHead
from encoders.image import ResNetEncoder, SmallCNN, resnet18, resnet18_cifar
from encoders.registry import (
    ENCODERS,
    EncoderInfo,
    accepted_arguments,
    available,
    defer_import,
    get,
    info,
    register,
)


def __getattr__(name: str) -> Any:
    """Import a module of the package on first access (PEP 562), e.g. ``encoders.graph``."""
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ENCODERS",
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
