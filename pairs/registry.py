"""One registry mechanism for every kind of named thing: encoders, methods, data specs, domain recipes, views.

A :class:`Registry` maps names to entries. Modules register their entries when imported (a decorator, or
:meth:`Registry.add` at top level); lookups import those modules lazily, found by a scan of the registry's
packages rather than a hand-kept list, so adding an entry (or a whole domain) means writing its module and
touching nothing else. Every registry:

* refuses a name already taken by a *different* entry (re-registering the same one, e.g. on a module
  reload, is allowed) with an error naming both;
* answers an unknown name with the library's error (:class:`~pairs.errors.ConfigError` unless told
  otherwise) listing close matches, the known names and the modules that could not be imported;
* lists its names, optionally filtered.

This module imports neither torch nor any domain library: ``pairs --help`` and ``pairs data`` stay fast.

Example:
    >>> from pairs.registry import Registry
    >>> colours = Registry("colour")
    >>> _ = colours.add("red", (255, 0, 0))
    >>> colours.get("red")
    (255, 0, 0)
    >>> colours.get("rde")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    pairs.errors.ConfigError: unknown colour 'rde'. Did you mean 'red'? All known colours: red
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from pairs.errors import ConfigError, PairsError

__all__ = ["Registry", "package_modules", "qualified_name"]

T = TypeVar("T")
F = TypeVar("F")


def qualified_name(obj: Any) -> str:
    """``module.QualName`` of a class or function (``repr`` for other objects), e.g. to tell entries apart."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def package_modules(package: str, exclude: Collection[str] = ()) -> list[str]:
    """Dotted names of the modules of ``package`` (not sub-packages' contents), without importing them.

    Modules whose name starts with ``_`` and those in ``exclude`` (short names, e.g. ``"registry"``) are
    left out. Importing ``package`` itself is needed to find its path.

    Returns:
        The sorted module names, e.g. ``["pairs.methods.base", "pairs.methods.byol", ...]``; empty when the
        package does not exist.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(
        f"{package}.{info.name}"
        for info in pkgutil.iter_modules(spec.submodule_search_locations)
        if not info.name.startswith("_") and info.name not in exclude
    )


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package that is not a package
        return False


class Registry(Generic[T]):
    """Named entries of one kind, registered by the modules that define them and found lazily.

    Args:
        kind: what an entry is, in messages (``"encoder"``, ``"method"``, ``"data spec"``).
        plural: the plural in messages (default ``kind + "s"``).
        packages: packages whose modules register entries; every module of them (found by
            :func:`package_modules`) is imported before a lookup that misses, and ``PACKAGE.NAME`` is tried
            first for a lookup of ``NAME``.
        exclude: short module names of ``packages`` that register nothing (skipped by the scan).
        modules: ``() -> module names`` registering entries, for registries whose modules are found another
            way (e.g. by reading their source); imported before a lookup that misses.
        locate: ``(name) -> module names`` likely to register ``name``, imported first by a lookup of it
            (default: ``PACKAGE.NAME`` for each package where such a module exists).
        normalize: applied to names on registration and lookup (e.g. ``str.lower``).
        error: the exception class raised for an unknown name (a :class:`~pairs.errors.PairsError`).
        identity: ``(entry) -> str`` telling whether two entries are the same (default: the qualified name
            of the entry), so re-registering one on a module reload is not a clash.
        listing: ``() -> names`` shown as the known ones when a lookup fails (default: the sorted names).
    """

    def __init__(
        self,
        kind: str,
        *,
        plural: str | None = None,
        packages: Sequence[str] = (),
        exclude: Collection[str] = (),
        modules: Callable[[], Iterable[str]] | None = None,
        locate: Callable[[str], Iterable[str]] | None = None,
        normalize: Callable[[str], str] | None = None,
        error: type[PairsError] = ConfigError,
        identity: Callable[[T], str] = qualified_name,
        listing: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self._packages = tuple(packages)
        self._exclude = frozenset(exclude)
        self._modules = modules
        self._locate = locate
        self._normalize = normalize
        self._error = error
        self._identity = identity
        self._listing = listing
        self._entries: dict[str, T] = {}
        self._deferred: list[str] = []
        self._imported: set[str] = set()
        self.failed: dict[str, str] = {}
        """Module -> why it could not be imported (a missing optional dependency)."""

    # ------------------------------------------------------------------------------------------------
    # registering
    # ------------------------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a str, got {type(name).__name__}")
        if not name.strip():
            raise ValueError(f"{self.kind} name must be a non-empty string")
        return self._normalize(name) if self._normalize else name

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``.

        Returns:
            ``entry``, unchanged.

        Raises:
            TypeError: ``name`` is not a string.
            ValueError: ``name`` is empty, or taken by a different entry (the message names both).
        """
        key = self._key(name)
        old = self._entries.get(key)
        if old is not None and self._identity(old) != self._identity(entry):
            raise ValueError(
                f"{self.kind} name {key!r} is already registered for {self._identity(old)}; choose another "
                f"name for {self._identity(entry)}"
            )
        self._entries[key] = entry
        return entry

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator registering the decorated class or function itself under ``name``.

        Raises:
            TypeError: the decorated object is not callable.
            ValueError: as :meth:`add`.
        """
        self._key(name)

        def decorator(obj: F) -> F:
            if not callable(obj):
                raise TypeError(f"register({name!r}) decorates a class or function, got {type(obj).__name__}")
            self.add(name, obj)  # type: ignore[arg-type]
            return obj

        return decorator

    def remove(self, name: str) -> None:
        """Forget ``name`` (nothing happens when it is not registered)."""
        self._entries.pop(self._key(name), None)

    def defer(self, *modules: str) -> None:
        """Import these modules (which register entries) before the next lookup that misses or listing.

        A module whose import fails with an ``ImportError`` is skipped with a warning, and the reason is
        shown when an unknown name is asked for (a :class:`~pairs.errors.DependencyError`, which says what
        to install, is raised as it is).
        """
        for module in modules:
            if module not in self._deferred:
                self._deferred.append(module)

    # ------------------------------------------------------------------------------------------------
    # discovering
    # ------------------------------------------------------------------------------------------------
    def modules(self) -> list[str]:
        """The modules this registry imports to find its entries: its packages' modules (found by a scan),
        those of ``modules`` and the deferred ones."""
        found = [m for package in self._packages for m in package_modules(package, self._exclude)]
        if self._modules is not None:
            found.extend(self._modules())
        found.extend(self._deferred)
        return list(dict.fromkeys(found))

    def _import(self, module: str) -> None:
        if module in self._imported:
            return
        self._imported.add(module)
        try:
            importlib.import_module(module)
        except PairsError:  # a DependencyError says what to install: the user's to see, not a warning
            self._imported.discard(module)
            raise
        except ImportError as err:
            self.failed[module] = f"{type(err).__name__}: {err}"
            warnings.warn(
                f"{self.plural}: could not import {module} ({err}); its {self.plural} are unavailable",
                stacklevel=4,
            )

    def load_all(self) -> None:
        """Import every module that may register entries (each once)."""
        for module in self.modules():
            self._import(module)
        self._deferred.clear()

    def _located(self, key: str) -> list[str]:
        if self._locate is not None:
            return list(self._locate(key))
        return [f"{p}.{key}" for p in self._packages if key.isidentifier() and _module_exists(f"{p}.{key}")]

    def find(self, name: str) -> T | None:
        """The entry registered under ``name``, importing the modules that may register it; ``None`` when
        there is none."""
        key = self._key(name)
        if key not in self._entries:
            for module in self._located(key):
                self._import(module)
        if key not in self._entries:
            self.load_all()
        return self._entries.get(key)

    def get(self, name: str) -> T:
        """The entry registered under ``name``.

        Raises:
            TypeError: ``name`` is not a string.
            PairsError: (the registry's ``error``, :class:`~pairs.errors.ConfigError` by default) an unknown
                name; the message lists close matches, the known names and the modules that failed to
                import.
        """
        entry = self.find(name)
        if entry is None:
            raise self._error(self.unknown(name))
        return entry

    def unknown(self, name: str) -> str:
        """The message for an unknown ``name``: close matches, the known names, failed imports."""
        key = self._key(name)
        hint = self.suggestion(key)
        listed = list(self._listing()) if self._listing is not None else sorted(self._entries)
        failed = "".join(f" ({m} could not be imported: {why})" for m, why in self.failed.items())
        listed_text = ", ".join(listed) or "(none)"
        return f"unknown {self.kind} {key!r}.{hint} All known {self.plural}: {listed_text}{failed}"

    def suggestion(self, name: str) -> str:
        """``" Did you mean 'a' or 'b'?"`` naming the registered names closest to ``name`` (up to three),
        or ``""`` when none is close: the hint of :meth:`unknown`, for messages of one's own."""
        close = difflib.get_close_matches(self._key(name), sorted(self._entries), n=3)
        return f" Did you mean {' or '.join(map(repr, close))}?" if close else ""

    # ------------------------------------------------------------------------------------------------
    # listing
    # ------------------------------------------------------------------------------------------------
    def names(self, where: Callable[[T], bool] | None = None) -> list[str]:
        """Sorted names of every entry (all modules imported first), or of those ``where`` accepts."""
        self.load_all()
        return sorted(n for n, e in self._entries.items() if where is None or where(e))

    def loaded(self) -> dict[str, T]:
        """The entries registered so far, importing nothing (a copy)."""
        return dict(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """``(name, entry)`` of every entry, sorted by name (all modules imported first)."""
        self.load_all()
        return sorted(self._entries.items())

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} registered)"

    @contextmanager
    def restored(self) -> Iterator[Registry[T]]:
        """Put the registry back as it was on exit (for tests that register entries of their own)."""
        self.load_all()
        entries, failed = dict(self._entries), dict(self.failed)
        deferred, imported = list(self._deferred), set(self._imported)
        try:
            yield self
        finally:
            self._entries.clear()
            self._entries.update(entries)
            self.failed.clear()
            self.failed.update(failed)
            self._deferred[:] = deferred
            self._imported = imported
