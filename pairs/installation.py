"""Is the installation sound? The declared dependencies, the pinned torch family, and what to do when not.

pairs pins torch, torchvision and torchaudio to one exact set (see ``pyproject.toml``): torchaudio's native
library is built against one torch build, and its last release line is 2.11, so a later torch (or a later
torchaudio build, such as 2.11.1, which declares only ``torch>=2.11``) fails to load with errors like
``libtorchaudio.so: undefined symbol: torch_exception_get_what_without_backtrace``.

:func:`check_installation` imports every declared dependency and compares the torch family with its pins;
:func:`dependency_error` turns an ``ImportError``/``OSError`` raised while importing a dependency into a
:class:`~pairs.errors.DependencyError` that names the package and the command that repairs it (the CLI uses
it, so a broken install is one clear line instead of an "internal error").

This module imports nothing heavy at import time.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import re
import sys
from types import TracebackType

from pairs.errors import DependencyError

__all__ = [
    "TORCH_FAMILY",
    "REINSTALL_TORCH",
    "declared_dependencies",
    "check_dependency",
    "check_installation",
    "dependency_error",
]

TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
"""Distributions pinned together to one exact, known-good set."""

REINSTALL_TORCH = (
    "pip install --force-reinstall torch==2.11.0 torchvision==0.26.0 torchaudio==2.11.0 "
    "(from a checkout: pip install -c .ci/constraints.txt -e .)"
)
"""The command that restores the pinned torch family."""

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_IMPORT_ERRORS = (ImportError, OSError, AttributeError, RuntimeError)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_dependencies(extras: tuple[str, ...] = ()) -> dict[str, str]:
    """The installed ``pairs`` distribution's requirements: ``{distribution: specifier}``.

    Args:
        extras: also list the requirements of these extras (e.g. ``("test",)``).

    Raises:
        DependencyError: when ``pairs`` itself is not installed as a distribution.
    """
    try:
        requires = metadata.requires("pairs") or []
    except metadata.PackageNotFoundError as err:
        raise DependencyError(
            "pairs is not installed as a package: run pip install -e . in the checkout"
        ) from err
    wanted: dict[str, str] = {}
    for line in requires:
        requirement, _, marker = line.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if extra is not None and extra.group(1) not in extras:
            continue
        match = _NAME.match(requirement)
        if match:
            wanted[match.group(1)] = requirement[match.end() :].strip()
    return wanted


def _top_level_modules(distribution: str) -> list[str]:
    """Import names a distribution provides (from ``top_level.txt`` or its file list)."""
    dist = metadata.distribution(distribution)
    text = dist.read_text("top_level.txt")
    if text:
        return [name for name in text.split() if name and not name.startswith("_")]
    names = set()
    for file in dist.files or []:
        parts = file.parts
        if len(parts) > 1 and parts[0].isidentifier() and not parts[0].endswith((".dist-info", ".data")):
            names.add(parts[0])
        elif len(parts) == 1 and file.suffix == ".py" and file.stem.isidentifier():
            names.add(file.stem)
    return sorted(n for n in names if not n.startswith("_")) or [_canonical(distribution).replace("-", "_")]


def _fix_for(distribution: str) -> str:
    if _canonical(distribution) in TORCH_FAMILY:
        return REINSTALL_TORCH
    return f"pip install --force-reinstall {distribution}"


def check_dependency(distribution: str) -> str:
    """Import a distribution's modules; return its installed version.

    Raises:
        DependencyError: when it is not installed, or installed but fails to import (a native library
            that does not load, a broken build); the message names it and the fix.
    """
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError as err:
        raise DependencyError(
            f"{distribution} is not installed, but pairs needs it: {_fix_for(distribution)}"
        ) from err
    for module in _top_level_modules(distribution):
        try:
            importlib.import_module(module)
        except _IMPORT_ERRORS as err:
            raise _broken(distribution, version, err) from err
    return version


def _broken(distribution: str, version: str, err: BaseException) -> DependencyError:
    first_line = " ".join(str(err).split())[:300] or type(err).__name__
    return DependencyError(
        f"{distribution} {version} is installed but does not load ({type(err).__name__}: {first_line}); "
        f"repair it with: {_fix_for(distribution)}"
    )


def _check_pins(declared: dict[str, str]) -> None:
    for name in TORCH_FAMILY:
        spec = declared.get(name, "")
        if not spec.startswith("=="):
            continue
        pinned = spec[2:].strip()
        installed = metadata.version(name).split("+")[0]
        if installed != pinned:
            raise DependencyError(
                f"{name} {installed} is installed, but pairs is pinned to {name}=={pinned} (torchaudio's "
                f"native library must match torch's build exactly): {REINSTALL_TORCH}"
            )


def check_installation(extras: tuple[str, ...] = ()) -> dict[str, str]:
    """Check that every declared dependency imports and the torch family matches its pins.

    Args:
        extras: also check the dependencies of these extras (e.g. ``("test",)``).

    Returns:
        ``{distribution: installed version}``.

    Raises:
        DependencyError: the first missing, broken or mispinned dependency, with the command that fixes it.
    """
    declared = declared_dependencies(extras)
    versions = {name: check_dependency(name) for name in declared}
    _check_pins(declared)
    return versions


def _distribution_of(module: str) -> str | None:
    top = module.split(".")[0]
    if top in ("pairs", "encoders", "importlib", "builtins", "__main__"):
        return None
    owners = metadata.packages_distributions().get(top, [])
    declared = {_canonical(d): d for d in declared_dependencies(("test",))}
    for owner in owners:
        if _canonical(owner) in declared:
            return declared[_canonical(owner)]
    return None


def _module_level_frames(tb: TracebackType | None) -> list[str]:
    """Names of the modules whose top-level code (an import in progress) is on the traceback."""
    modules = []
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "<module>":
            modules.append(str(tb.tb_frame.f_globals.get("__name__", "")))
        tb = tb.tb_next
    return modules


def dependency_error(err: BaseException) -> DependencyError | None:
    """The :class:`DependencyError` behind ``err`` when it comes from importing a declared dependency.

    ``err`` counts when it is a ``ModuleNotFoundError`` for a declared dependency, or an ``ImportError``,
    ``OSError``, ``AttributeError`` or ``RuntimeError`` raised *while a dependency was being imported* (a
    native library that does not load, a build that does not match torch). Errors raised while running
    already imported code, and errors of pairs' own modules, give ``None``: those are not the install's fault.
    """
    if not isinstance(err, _IMPORT_ERRORS):
        return None
    try:
        if isinstance(err, ModuleNotFoundError) and err.name:
            owner = _distribution_of(err.name)
            if owner is not None:
                return _error_for(owner, err)
        for module in _module_level_frames(err.__traceback__):
            owner = _distribution_of(module)
            if owner is not None:
                return _error_for(owner, err)
    except metadata.PackageNotFoundError:
        return None
    return None


def _error_for(distribution: str, err: BaseException) -> DependencyError:
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return DependencyError(
            f"{distribution} is not installed, but pairs needs it: {_fix_for(distribution)}"
        )
    return _broken(distribution, version, err)


if __name__ == "__main__":  # python -m pairs.installation: check this environment
    try:
        for dist, ver in sorted(check_installation(tuple(sys.argv[1:])).items()):
            print(f"{dist} {ver}")
    except DependencyError as error:
        print(f"pairs: error: {error}", file=sys.stderr)
        sys.exit(2)
