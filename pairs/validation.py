"""Argument checks shared by the whole library: one place, one behaviour, one wording.

Every constructor and public function checks its settings with these helpers (views, losses, methods,
encoders, evaluation, the CLI's argument types), so a bad value fails at once with a message that names the
argument, what was expected and what was given.

The behaviour is the same for every check:

* a value of the wrong **type** (a string, ``None``, a ``bool`` where a number is expected) raises
  :class:`~pairs.errors.SettingError`, which is a :class:`~pairs.errors.ConfigError` and also both a
  ``ValueError`` and a ``TypeError``, so code that caught either before keeps working;
* a number **out of range** raises :class:`~pairs.errors.ConfigError` (also a ``ValueError``).

Both are :class:`~pairs.errors.PairsError`: the CLI reports them as a user's mistake (one line, exit 2).

Example::

    from pairs.validation import positive_int, probability

    self.width = positive_int("width", width, owner="SmallCNN")  # "SmallCNN: width must be a positive ..."
    self.p = probability("p", p, owner="DropNodes")
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, TypeGuard

from pairs.errors import ConfigError, SettingError

__all__ = [
    "is_int",
    "is_number",
    "integer",
    "positive_int",
    "probability",
    "finite_float",
    "flag",
    "one_row_each",
    "listed_positions",
]


def __getattr__(name: str) -> Any:
    """``HALF_DTYPES``: ``(torch.float16, torch.bfloat16)``, the half-precision dtypes, which views and losses
    compute in float32 and cast back. Made on first use, so that importing this module (the CLI does, to
    check its arguments) does not import torch: ``pairs --help`` stays fast."""
    if name == "HALF_DTYPES":
        import torch

        return (torch.float16, torch.bfloat16)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_int(value: Any) -> TypeGuard[int]:
    """Whether ``value`` is an integer (Python or NumPy), ``bool`` excluded."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[float]:
    """Whether ``value`` is a real number (Python or NumPy), ``bool`` excluded."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _subject(name: str, owner: str | None) -> str:
    """``"owner: name "`` / ``"name "`` / ``""``: the start of a message."""
    text = f"{owner}: {name}" if owner else name
    return f"{text} " if text else ""


def integer(name: str, value: Any, *, minimum: int = 0, owner: str | None = None) -> int:
    """Check that ``value`` is an int ``>= minimum`` (``bool`` refused) and return it as ``int``.

    Args:
        name: the argument named in the message (``""`` for none, e.g. a CLI value).
        value: the value to check.
        minimum: the smallest accepted value.
        owner: the class or function named before the argument (``"GIN"``), or ``None``.

    Returns:
        ``int(value)``.

    Raises:
        SettingError: ``value`` is not an integer.
        ConfigError: ``value < minimum``.
    """
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    message = f"{_subject(name, owner)}must be {expected}, got {value!r}"
    if not is_int(value):
        raise SettingError(message)
    if value < minimum:
        raise ConfigError(message)
    return int(value)


def positive_int(name: str, value: Any, *, owner: str | None = None) -> int:
    """Check that ``value`` is an int ``>= 1`` (``bool`` refused) and return it as ``int``.

    Raises:
        SettingError: ``value`` is not an integer.
        ConfigError: ``value < 1``.
    """
    return integer(name, value, minimum=1, owner=owner)


def probability(name: str, value: Any, *, owner: str | None = None, high_open: bool = False) -> float:
    """Check that ``value`` is a probability: a number in ``[0, 1]`` (``[0, 1)`` with ``high_open``).

    Args:
        name: the argument named in the message.
        value: the value to check.
        owner: the class or function named before the argument, or ``None``.
        high_open: refuse 1 as well (e.g. a dropout rate).

    Returns:
        ``float(value)``.

    Raises:
        SettingError: ``value`` is not a number.
        ConfigError: ``value`` is outside the interval (or NaN).
    """
    interval = "[0, 1)" if high_open else "[0, 1]"
    message = f"{_subject(name, owner)}must be in {interval}, got {value!r}"
    if not is_number(value):
        raise SettingError(message)
    v = float(value)
    if not (0.0 <= v <= 1.0) or (high_open and v >= 1.0):
        raise ConfigError(message)
    return v


def finite_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    strict: bool = False,
    owner: str | None = None,
) -> float:
    """Check that ``value`` is a finite real number, optionally ``>= minimum`` (``> minimum`` if ``strict``).

    Args:
        name: the argument named in the message (``""`` for none).
        value: the value to check.
        minimum: the lower bound, or ``None`` for any finite number.
        strict: refuse ``minimum`` itself (``> 0`` rather than ``>= 0``).
        owner: the class or function named before the argument, or ``None``.

    Returns:
        ``float(value)``.

    Raises:
        SettingError: ``value`` is not a real number.
        ConfigError: ``value`` is NaN, infinite or below the bound.
    """
    if minimum == 0 and strict:
        expected = "a positive number (finite and > 0)"
    else:
        expected = "a finite number" + ("" if minimum is None else f" {'>' if strict else '>='} {minimum:g}")
    message = f"{_subject(name, owner)}must be {expected}, got {value!r}"
    if not is_number(value):
        raise SettingError(message)
    v = float(value)
    if not math.isfinite(v) or (minimum is not None and (v < minimum or (strict and v == minimum))):
        raise ConfigError(message)
    return v


def flag(name: str, value: Any, *, owner: str | None = None) -> bool:
    """Check that ``value`` is ``True`` or ``False`` (not merely truthy) and return it.

    Raises:
        SettingError: any other value.
    """
    if not isinstance(value, bool):
        raise SettingError(f"{_subject(name, owner)}must be True or False, got {value!r}")
    return value


def one_row_each(out: Any, count: Any, *, owner: str, kind: str, counted: str, fix: str) -> Any:
    """Check that an encoder's output ``out`` is a ``(count, D)`` tensor: one ``kind`` embedding per row.

    For methods and protocols that take an encoder's rows as one per graph or one per node, so that an
    encoder of the other level fails with a message naming the fix instead of a shape error later.

    Args:
        out: what the encoder returned.
        count: the number of rows expected (``None`` when the input does not say: not checked).
        owner: the method or protocol named in the message (``"GRACE"``).
        kind: ``"node"`` or ``"graph"``.
        counted: the input, said of ``count`` as ``{n}`` (``"a graph of {n} nodes"``).
        fix: what to use instead (``"use a node-level encoder such as 'gcn'"``).

    Returns:
        ``out``, a 2-D tensor with ``count`` rows.

    Raises:
        ConfigError: ``out`` is not a 2-D tensor, or has another number of rows.
    """
    from torch import Tensor

    if not isinstance(out, Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ConfigError(f"{owner}: the encoder must return (num_{kind}s, D) {kind} embeddings, got {shape}")
    if count is not None and out.shape[0] != int(count):
        given = counted.format(n=int(count))
        raise ConfigError(
            f"{owner} contrasts {kind} embeddings, but the encoder returned {out.shape[0]} rows for {given}; "
            + fix
        )
    return out


def listed_positions(positions: Sequence[int], most: int = 10) -> str:
    """The positions of the examples at fault, for a message: the first ``most`` joined by ``", "``, then
    ``", ..."`` when there are more (``[3, 7]`` -> ``"3, 7"``)."""
    return ", ".join(map(str, positions[:most])) + (", ..." if len(positions) > most else "")
