"""A registry of encoders and heads by name, so configs and the CLI can say ``"resnet18_cifar"``.

Every domain module registers its factories (classes or functions returning an ``nn.Module``) with
:func:`register`; users build them with :func:`get` and list them with :func:`available`. The registry
checks keyword arguments against the factory's signature *before* calling it, so a typo in a config
fails with the encoder's name and the arguments it accepts rather than deep inside a constructor.

Example:
    >>> import encoders
    >>> net = encoders.get("small_cnn", in_channels=1, width=16)
    >>> net.out_dim
    64
    >>> "resnet18_cifar" in encoders.available(domain="image")
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from torch import nn

from pairs.errors import ConfigError, PairsError, SettingError
from pairs.registry import Registry, qualified_name
from pairs.settings import check_settings

__all__ = [
    "ENCODERS",
    "EncoderInfo",
    "register",
    "get",
    "available",
    "info",
    "accepted_arguments",
    "defer_import",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class EncoderInfo:
    """What the registry knows about one entry.

    Attributes:
        name: the registered name.
        domain: the data domain (``"image"``, ``"text"``, ``"audio"``, ``"graph"``, ``"temporal"``) or
            ``"head"`` for projection/prediction heads.
        description: one line shown by :func:`available`-based listings and the CLI.
        factory: the class or function that builds the module.
    """

    name: str
    domain: str
    description: str
    factory: Callable[..., nn.Module]


ENCODERS: Registry[EncoderInfo] = Registry(
    "encoder", packages=["encoders"], exclude={"registry"}, identity=lambda e: qualified_name(e.factory)
)
"""Every encoder and head by name; the ``encoders`` package's modules are imported on the first lookup."""


def defer_import(*modules: str) -> None:
    """Import these modules (which register encoders) only when the registry is first consulted.

    The modules of the ``encoders`` package are found without this; it is for encoders written elsewhere.
    A module whose import fails with an ``ImportError`` is skipped, and the reason is shown when one of its
    names is asked for.

    Args:
        modules: dotted module names, e.g. ``"my_project.encoders"``.
    """
    ENCODERS.defer(*modules)


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"encoder {what} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"encoder {what} must be a non-empty string")
    return value


def register(name: str, *, domain: str, description: str) -> Callable[[F], F]:
    """Decorator that registers an encoder factory (a class or a function) under ``name``.

    Args:
        name: the name users pass to :func:`get`; must be unique.
        domain: the data domain, e.g. ``"image"``, or ``"head"`` for heads.
        description: a one-line description.

    Returns:
        A decorator that records the factory and returns it unchanged.

    Raises:
        TypeError: if an argument is not a string, or the decorated object is not callable.
        ValueError: if an argument is empty, or ``name`` is already taken by a different factory
            (re-registering the same factory, e.g. on a module reload, is allowed).

    Example:
        >>> @register("tiny_mlp", domain="temporal", description="two linear layers")  # doctest: +SKIP
        ... class TinyMLP(nn.Module): ...
    """
    _check_text(name, "name")
    _check_text(domain, "domain")
    _check_text(description, "description")

    def decorator(factory: F) -> F:
        if not callable(factory):
            raise TypeError(f"register({name!r}) decorates a class or function, got {type(factory).__name__}")
        ENCODERS.add(name, EncoderInfo(name, domain, description, factory))
        return factory

    return decorator


def info(name: str) -> EncoderInfo:
    """Return the :class:`EncoderInfo` registered under ``name``.

    Raises:
        ConfigError: if ``name`` is unknown; the message lists the known names and close matches.
    """
    return ENCODERS.get(name)


def accepted_arguments(name: str) -> list[str]:
    """Names of the keyword arguments the factory registered under ``name`` accepts."""
    sig = inspect.signature(info(name).factory)
    return [
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
    ]


def _describe_signature(entry: EncoderInfo) -> str:
    sig = inspect.signature(entry.factory)
    parts = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            parts.append(("*" if p.kind == p.VAR_POSITIONAL else "**") + p.name)
        elif p.default is p.empty:
            parts.append(f"{p.name} (required)")
        else:
            parts.append(f"{p.name}={p.default!r}")
    return ", ".join(parts) or "(no arguments)"


def get(name: str, **kwargs: Any) -> nn.Module:
    """Build the encoder (or head) registered under ``name``.

    Args:
        name: a registered name (see :func:`available`).
        **kwargs: keyword arguments for the factory.

    Returns:
        The module; it has an int attribute ``out_dim`` and maps a batch to ``(B, out_dim)`` features.

    Raises:
        ConfigError: if ``name`` is unknown (the message lists the known names), or the factory refuses a
            setting's value.
        SettingError: if ``kwargs`` do not fit the factory's signature or annotations (the message names the
            encoder and its accepted arguments); also a ``TypeError``.
        TypeError: if the factory does not return an ``nn.Module`` with an int
            ``out_dim``.
    """
    entry = info(name)
    try:
        inspect.signature(entry.factory).bind(**kwargs)
    except TypeError as err:
        raise SettingError(
            f"bad arguments for encoder {name!r}: {err}. Accepted arguments: {_describe_signature(entry)}"
        ) from None
    check_settings(f"encoder {name!r}", entry.factory, kwargs)
    try:
        module = entry.factory(**kwargs)
    except PairsError:
        raise
    except ValueError as err:  # the factory's own validation of a setting's value
        raise ConfigError(f"encoder {name!r}: {err}") from err
    if not isinstance(module, nn.Module):
        raise TypeError(f"encoder factory {name!r} returned {type(module).__name__}, expected an nn.Module")
    out_dim = getattr(module, "out_dim", None)
    if not isinstance(out_dim, int) or isinstance(out_dim, bool) or out_dim <= 0:
        raise TypeError(
            f"encoder {name!r} must expose a positive int attribute out_dim (its feature size), "
            f"got {out_dim!r}"
        )
    return module


def available(domain: str | None = None) -> list[str]:
    """Sorted names of the registered encoders, optionally only those of one ``domain``.

    Args:
        domain: e.g. ``"image"`` or ``"head"``; ``None`` lists everything.

    Returns:
        The names (an empty list when no encoder of that domain is registered).
    """
    if domain is None:
        return ENCODERS.names()
    _check_text(domain, "domain")
    return ENCODERS.names(lambda e: e.domain == domain)
