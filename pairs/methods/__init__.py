"""Training methods by name: ``build_method("simclr", encoder, **kwargs)``.

Each method is an ``nn.Module`` (encoder + heads + loss + optional momentum target / queue / prototypes)
that the one :class:`pairs.train.Trainer` runs. Method modules in this package register themselves with
:func:`register_method` when imported; every module of the package is found by a scan and imported on the
first lookup (:class:`pairs.registry.Registry`), so a new method module is found as it is. The method classes
are importable from here by name (``from pairs.methods import BYOL``), looked up in the registry.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from pairs.errors import ConfigError, PairsError
from pairs.methods.base import Method, encode_views
from pairs.registry import Registry
from pairs.settings import check_settings

METHODS: Registry[Callable[..., Method]] = Registry("method", packages=[__name__], normalize=str.lower)
"""Every method factory by (lower-case) name; the package's modules are imported on the first lookup."""


def register_method(name: str, factory: Callable[..., Method]) -> Callable[..., Method]:
    """Register a method factory ``(encoder, **kwargs) -> Method`` under ``name`` (case-insensitive).

    Returns:
        ``factory``, unchanged.

    Raises:
        ValueError: ``name`` is taken by a different factory.
    """
    return METHODS.add(name, factory)


def available_methods() -> list[str]:
    """Names of the registered methods."""
    return METHODS.names()


def get_method_class(name: str) -> Callable[..., Method]:
    """The factory registered under ``name``.

    Raises:
        ConfigError: for an unknown name (the message lists the known ones).
    """
    return METHODS.get(str(name))


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


def _classes() -> dict[str, Callable[..., Method]]:
    """Registered method classes by class name (``BYOL``, ``SimSiam``, ...)."""
    return {factory.__name__: factory for _, factory in METHODS.items() if isinstance(factory, type)}


def __getattr__(name: str) -> Any:
    """Method classes importable by name (``from pairs.methods import BYOL``), found in the registry."""
    if not name.startswith("_"):
        factory = METHODS.find(name)  # the usual case: the class of the method of that name (BYOL: byol)
        if getattr(factory, "__name__", None) != name:
            factory = _classes().get(name)
        if factory is not None:
            return factory
    raise AttributeError(f"module 'pairs.methods' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_classes()])


__all__ = [
    "METHODS",
    "Method",
    "available_methods",
    "build_method",
    "encode_views",
    "get_method_class",
    "register_method",
]
