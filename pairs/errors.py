"""The library's own exception classes: one base for mistakes a *user* can fix, families under it.

The command line maps exactly :class:`PairsError` (and its families) to one line on stderr and exit 2; every
other exception is a bug in the library and exits 1 with its traceback written to a file. So raise one of
these whenever the user's input, files, settings or environment are at fault, and say what was wrong, what
was expected and how to fix it (the way httpx keeps one base with families under it).

The families also derive from the built-in class that code written before them caught (``ValueError`` for
bad data and settings, ``ImportError`` for a missing or broken dependency, ``OSError`` for a file system
that refuses a write), so ``except ValueError`` keeps working.

Example::

    from pairs.errors import DataError
    raise DataError(f"{path}: expected a .npy file of shape (N, C, T), got shape {tuple(x.shape)}")
"""

from __future__ import annotations

import re

__all__ = [
    "PairsError",
    "DataError",
    "ConfigError",
    "CheckpointError",
    "DependencyError",
    "OutputError",
    "TrainingDiverged",
    "SettingError",
    "DataTypeError",
    "DataNotFoundError",
    "one_line",
    "first_line",
]

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")


def one_line(message: str) -> str:
    """``message`` as one clean line: terminal escape codes removed, newlines and runs of spaces collapsed."""
    return " ".join(_ANSI.sub("", str(message)).split())


def first_line(message: str) -> str:
    """The first non-blank line of ``message`` (e.g. a third-party error's multi-paragraph text), cleaned as
    by :func:`one_line`."""
    for line in _ANSI.sub("", str(message)).splitlines():
        if line.strip():
            return one_line(line)
    return ""


class PairsError(Exception):
    """Base of every error the user can fix (bad data, settings, files, environment): CLI exit 2."""


class DataError(PairsError, ValueError):
    """The data is unusable: missing or unreadable files, a wrong format, shape or dtype, NaN/inf,
    empty samples, an unknown data spec."""


class ConfigError(PairsError, ValueError):
    """A setting is wrong: an unknown name, a value out of range, settings that do not go together."""


class CheckpointError(PairsError, ValueError):
    """A checkpoint or run directory is missing, damaged (failed its integrity check), or not one of ours."""


class DependencyError(PairsError, ImportError):
    """A declared dependency is missing or installed but broken (e.g. a native library that does not load).

    The message names the package and the command that repairs it.
    """


class OutputError(PairsError, OSError):
    """An output cannot be written where the user asked (read-only file system, no permission, no space)."""


class TrainingDiverged(PairsError, RuntimeError):
    """Training produced NaN/inf (loss, gradients or weights); the last finite checkpoint is kept."""


class SettingError(ConfigError, TypeError):
    """A named setting that a function or class does not take, or a value of the wrong type for it (a
    :class:`ConfigError` that ``except TypeError`` also catches, as for the built-in error it replaces)."""


class DataTypeError(DataError, TypeError):
    """Data of the wrong kind (non-numeric arrays, pickled objects, records that are not the expected type);
    also a ``TypeError``, as raised before this family existed."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file or folder the user named does not exist; also a ``FileNotFoundError``."""
