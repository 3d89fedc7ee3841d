"""Which data specs exist, read from the loader modules' source without importing them.

Every loader module of :mod:`pairs.data` registers its specs with top-level calls::

    register_data("digits", load_digits, domain="image", description="sklearn's 1,797 8x8 digits")

Importing those modules imports torch and the domain libraries (seconds), which ``pairs data`` and
``pairs --help`` should not pay for. So this module parses each module's source (:mod:`ast`) and reads the
name, domain, description and argument of those calls with :func:`ast.literal_eval`: literals only, nothing
is executed. A module is a loader module when it has such calls; nothing lists them by hand, so a new
module of this package that calls ``register_data`` at top level is found as it is.

Calls whose settings are not literals (a description built at run time, a call inside a loop) cannot be
read this way: :func:`declared_specs` then imports that one module and reads what it registered, so the
listing is always complete, only slower.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["DeclaredSpec", "declared_specs", "loader_modules"]

_PACKAGE = "pairs.data"
_FIELDS = ("domain", "description", "argument")


@dataclass(frozen=True)
class DeclaredSpec:
    """A data spec as its loader module declares it.

    Attributes:
        name: the spec name (the part before ``:``).
        module: the module whose import registers it (``pairs.data.images``).
        domain: ``"image"``, ``"text"``, ``"audio"``, ``"graph"`` or ``"series"``.
        description: the one line ``pairs data`` shows.
        argument: what follows ``:`` (``"DIR"``, ``"FILE"``), or ``None`` when it takes none.
    """

    name: str
    module: str
    domain: str
    description: str
    argument: str | None


def _register_call(node: ast.AST) -> ast.Call | None:
    """The ``register_data(...)`` call of a statement that is just that call, else ``None``."""
    if (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "register_data"
    ):
        return node.value
    return None


def _read_call(call: ast.Call, module: str) -> DeclaredSpec | None:
    """The spec of one ``register_data(...)`` call, or ``None`` when a setting is not a literal."""
    try:
        if not call.args:
            return None
        name = ast.literal_eval(call.args[0])
        settings = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg in _FIELDS}
    except ValueError:  # not a literal: read it by importing the module
        return None
    if not isinstance(name, str) or not {"domain", "description"} <= settings.keys():
        return None
    return DeclaredSpec(
        name, module, str(settings["domain"]), str(settings["description"]), settings.get("argument")
    )


@cache
def _scan(path: str, mtime: float) -> tuple[bool, tuple[DeclaredSpec, ...] | None]:
    """``(registers specs, the specs read statically or None)`` for the module source at ``path``."""
    module = _module_name(Path(path))
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and _calls_register(node)]
    if not calls:
        return False, None
    top_level = [call for node in tree.body if (call := _register_call(node)) is not None]
    if len(top_level) != len(calls):  # a call in a loop or a function: import to read it
        return True, None
    specs = [_read_call(call, module) for call in top_level]
    if any(spec is None for spec in specs):
        return True, None
    return True, tuple(spec for spec in specs if spec is not None)


def _calls_register(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id == "register_data"


def _module_name(path: Path) -> str:
    return f"{_PACKAGE}.{path.stem}"


def _module_paths() -> list[Path]:
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return []
    paths = []
    for info in pkgutil.iter_modules(spec.submodule_search_locations):
        if info.ispkg or info.name.startswith("_") or info.name in ("registry", "catalog"):
            continue
        path = Path(info.module_finder.path) / f"{info.name}.py"  # type: ignore[union-attr]
        if path.is_file():
            paths.append(path)
    return sorted(paths)


def loader_modules() -> list[str]:
    """Names of the modules of :mod:`pairs.data` that register data specs, found from their source."""
    return [_module_name(p) for p in _module_paths() if _scan(str(p), p.stat().st_mtime)[0]]


def declared_specs() -> list[DeclaredSpec]:
    """Every spec the loader modules declare, read from source (a module whose calls are not literals is
    imported and its registered specs are read instead)."""
    from pairs.data import registry

    out: list[DeclaredSpec] = []
    for path in _module_paths():
        registers, specs = _scan(str(path), path.stat().st_mtime)
        if not registers:
            continue
        if specs is None:
            module = _module_name(path)
            before = set(registry.DATA.loaded())
            importlib.import_module(module)
            specs = tuple(
                DeclaredSpec(n, module, e.domain, e.description, e.argument)
                for n, e in registry.DATA.loaded().items()
                if n not in before or _owner(e) == module
            )
        out.extend(specs)
    return out


def _owner(entry: object) -> str | None:
    loader = getattr(entry, "loader", None)
    return getattr(loader, "__module__", None)
