"""Checks of named settings (``--method-arg``, ``--encoder-arg``, recipe defaults) against a signature.

A setting given by name is checked before the factory runs: the name must be one of the factory's
parameters, and the value must fit the parameter's annotation (``float`` takes ints and floats, ``int``
takes ints, ``bool`` takes ``True``/``False``, ``str`` takes strings, ``X | None`` also ``None``, ...), so
``temperature=hot`` is refused as "setting 'temperature' of method 'simclr' expects a number (float), got the
string 'hot'" instead of a bare "could not convert string to float" from deep inside.
"""

from __future__ import annotations

import inspect
import numbers
import types
import typing
from collections import abc
from collections.abc import Callable, Mapping
from typing import Any

from pairs.errors import SettingError

__all__ = ["check_settings"]

_NAMES = {
    int: "an integer (int)",
    float: "a number (float)",
    bool: "true or false (bool)",
    str: "a string (str)",
}


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if value is None:
        return "null (None)"
    return f"{value!r} ({type(value).__name__})"


def _fits(value: Any, hint: Any) -> bool | None:
    """Whether ``value`` fits the annotation ``hint``; ``None`` when the annotation is not one we check."""
    if hint is Any or hint is inspect.Parameter.empty:
        return None
    origin = typing.get_origin(hint)
    if origin is typing.Union or isinstance(hint, types.UnionType):
        verdicts = [_fits(value, arg) for arg in typing.get_args(hint)]
        if any(v is None for v in verdicts):
            return None
        return any(verdicts)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, abc.Sequence) or hint in (list, tuple):
        return isinstance(value, (list, tuple))
    return None


def _expected(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Union or isinstance(hint, types.UnionType):
        return " or ".join(_expected(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null (None)"
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    return _NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def check_settings(
    what: str, factory: Callable[..., Any], settings: Mapping[str, Any], skip: int = 0
) -> None:
    """Check settings given by name against ``factory``'s parameters and their annotations.

    Args:
        what: how messages name the factory (``"method 'simclr'"``).
        factory: a class or function.
        settings: the keyword arguments it is about to get.
        skip: leading parameters the caller passes itself (e.g. 1 for a method's encoder).

    Raises:
        SettingError: an unknown setting (the message lists the accepted ones) or a value that does not fit
            its parameter's annotation (the message names the setting and the expected type).
    """
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature: nothing to check
        return
    params = list(signature.parameters.values())[skip:]
    named = {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params)
    unknown = sorted(set(settings) - set(named))
    if unknown and not takes_any:
        raise SettingError(
            f"{what} has no setting {', '.join(map(repr, unknown))}; "
            f"its settings: {', '.join(named) or '(none)'}"
        )
    try:
        target = factory.__init__ if inspect.isclass(factory) else factory
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: only the names are checked
        hints = {}
    for key, value in settings.items():
        hint = hints.get(key)
        if hint is None:
            continue
        if _fits(value, hint) is False:
            raise SettingError(f"setting {key!r} of {what} expects {_expected(hint)}, got {_describe(value)}")
