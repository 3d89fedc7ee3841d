"""Training methods by name: ``build_method("simclr", encoder, **kwargs)``.

Each method is an ``nn.Module`` (encoder + heads + loss + optional momentum target / queue / prototypes)
that the one :class:`pairs.train.Trainer` runs. Method modules in this package register themselves with
:func:`register_method` when imported; every module of the package is imported on the first lookup.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from collections.abc import Callable
from typing import Any

from torch import nn

from pairs.methods.base import Method, encode_views
from pairs.methods.simclr import SimCLR

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
        ValueError: for an unknown name (the message lists the known ones).
    """
    _discover()
    factory = _METHODS.get(str(name).lower())
    if factory is None:
        broken = "".join(f"; module {m!r} failed to import ({why})" for m, why in _BROKEN.items())
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(available_methods())}{broken}")
    return factory


def build_method(name: str, encoder: nn.Module, **kwargs: Any) -> Method:
    """Build method ``name`` around ``encoder``.

    Raises:
        ValueError: unknown method.
        TypeError: an argument the method does not take (the message names the method).
    """
    factory = get_method_class(name)
    accepted = _accepted_arguments(factory)
    unknown = [] if accepted is None else sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(
            f"method {name!r} has no setting {', '.join(map(repr, unknown))}; "
            f"its settings: {', '.join(accepted)}"
        )
    try:
        return factory(encoder, **kwargs)
    except TypeError as err:
        raise TypeError(f"method {name!r}: {err}") from err


def _accepted_arguments(factory: Callable[..., Method]) -> list[str] | None:
    """Keyword arguments a method factory takes after its first (the encoder), or ``None`` when it takes
    ``**kwargs`` (anything goes)."""
    params = list(inspect.signature(factory).parameters.values())[1:]  # a class's signature has no self
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


__all__ = [
    "Method",
    "SimCLR",
    "available_methods",
    "build_method",
    "encode_views",
    "get_method_class",
    "register_method",
]
