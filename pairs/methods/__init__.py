"""Training methods by name: ``build_method("simclr", encoder, **kwargs)``.

Each method is an ``nn.Module`` (encoder + heads + loss + optional momentum target / queue / prototypes)
that the one :class:`pairs.train.Trainer` runs. Method modules in this package register themselves with
:func:`register_method` when imported; every module of the package is imported on the first lookup.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import warnings
from collections.abc import Callable
from typing import Any

from torch import nn

from pairs.errors import ConfigError, PairsError
from pairs.methods.base import Method, encode_views
from pairs.methods.simclr import SimCLR
from pairs.settings import check_settings

_METHODS: dict[str, Callable[..., Method]] = {"simclr": SimCLR}


def register_method(name: str, factory: Callable[..., Method]) -> None:
    """Register a method factory ``(encoder, **kwargs) -> Method`` under ``name``."""
    _METHODS[name.lower()] = factory


_DISCOVERED = False
_BROKEN: dict[str, str] = {}


def _discover() -> None:
    """Import every module of this package once, so their ``register_method`` calls run."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{__name__}.{module.name}")
        except ImportError as err:  # a missing optional dependency disables that method only
            _BROKEN[module.name] = f"{type(err).__name__}: {err}"
            warnings.warn(
                f"method module {module.name!r} could not be imported: {err}", RuntimeWarning, stacklevel=2
            )


def available_methods() -> list[str]:
    """Names of the registered methods."""
    _discover()
    return sorted(_METHODS)


def get_method_class(name: str) -> Callable[..., Method]:
    """The factory registered under ``name``.

    Raises:
        ConfigError: for an unknown name (the message lists the known ones).
    """
    _discover()
    factory = _METHODS.get(str(name).lower())
    if factory is None:
        broken = "".join(f"; module {m!r} failed to import ({why})" for m, why in _BROKEN.items())
        close = difflib.get_close_matches(str(name).lower(), available_methods(), n=2)
        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        raise ConfigError(
            f"unknown method {name!r}{hint}; known methods: {', '.join(available_methods())}{broken}"
        )
    return factory


def build_method(name: str, encoder: nn.Module, **kwargs: Any) -> Method:
    """Build method ``name`` around ``encoder``.

    Raises:
        ConfigError: unknown method, or a setting value the method refuses (the message names the method).
        SettingError: a setting the method does not take, or a value of the wrong type for it (the message
            names the setting and the expected type); also a ``TypeError``.
    """
    factory = get_method_class(name)
    check_settings(f"method {name!r}", factory, kwargs, skip=1)
    try:
        return factory(encoder, **kwargs)
    except PairsError:
        raise
    except ValueError as err:  # the factory's own validation of a setting's value
        raise ConfigError(f"method {name!r}: {err}") from err


def _accepted_arguments(factory: Callable[..., Method]) -> list[str] | None:
    """Keyword arguments a method factory takes after its first (the encoder), or ``None`` when it takes
    ``**kwargs`` (anything goes)."""
    params = list(inspect.signature(factory).parameters.values())[1:]  # a class's signature has no self
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


_CLASSES = {
    "BarlowTwins": "barlow_twins",
    "BYOL": "byol",
    "SimSiam": "byol",
    "CLIP": "clip",
    "CPC": "cpc",
    "DINO": "dino",
    "GRACE": "grace",
    "GraphCL": "graphcl",
    "InfoGraph": "infograph",
    "Siamese": "metric",
    "Triplet": "metric",
    "MoCoV2": "moco",
    "MoCoV3": "moco",
    "SupCon": "supcon",
    "SwAV": "swav",
    "TS2Vec": "ts2vec",
    "VICReg": "vicreg",
}
"""Method classes importable by name (``from pairs.methods import BYOL``), from their modules on first use."""


def __getattr__(name: str) -> Any:
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module 'pairs.methods' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_CLASSES])


__all__ = [
    *_CLASSES,
    "Method",
    "SimCLR",
    "available_methods",
    "build_method",
    "encode_views",
    "get_method_class",
    "register_method",
]
