"""Shared helpers of the contract tests: finding every entry of a kind, and comparing nested outputs."""

from __future__ import annotations

import importlib
from typing import Any

import torch

from pairs.registry import package_modules


def subclasses_in(package: str, base: type) -> list[type]:
    """Every public subclass of ``base`` defined in the modules of ``package`` (each module imported), by
    qualified name: what a contract test runs over, so a new class is tested without being listed."""
    for module in package_modules(package):
        importlib.import_module(module)
    found: dict[str, type] = {}
    stack = [base]
    while stack:
        for cls in stack.pop().__subclasses__():
            stack.append(cls)
            if cls.__module__.startswith(package) and not cls.__name__.startswith("_"):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]


def tensors(obj: Any) -> list[torch.Tensor]:
    """The tensors in a nested output (tensors, lists, tuples, dicts, PyG graphs), in a fixed order."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for k in sorted(obj, key=str) for t in tensors(obj[k])]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in tensors(item)]
    stores = getattr(obj, "stores", None)  # a torch_geometric Data / Batch
    if stores is not None:
        return [t for store in stores for k in sorted(store.keys()) for t in tensors(store[k])]
    return []


def same(a: Any, b: Any) -> bool:
    """Whether two nested outputs are equal: same structure, tensors equal in shape, dtype and value (NaN
    equal to NaN), other leaves equal."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and bool(torch.equal(a, b) or (a.is_floating_point() and torch.allclose(a, b, 0, 0, True)))
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if getattr(a, "stores", None) is not None and getattr(b, "stores", None) is not None:
        ta, tb = tensors(a), tensors(b)
        return len(ta) == len(tb) and all(same(x, y) for x, y in zip(ta, tb, strict=True))
    return a == b


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
