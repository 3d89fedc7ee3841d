"""Named data specs (``digits``, ``images:DIR``, ``tu:MUTAG``, ...) and the loaders behind them.

A *data spec* is a string ``NAME`` or ``NAME:ARGUMENT``. Each registered name knows how to load its data
into a :class:`DataBundle` (train and held-out samples, labels when there are any, and the domain).
Loader modules in this package register their specs with :func:`register_data` when imported; the
domain defaults that go with a bundle (views, encoder, method, evaluation) live in :mod:`pairs.domains`.

Listing the specs (:func:`known_specs`, ``pairs data``) imports no loader module: their top-level
``register_data(...)`` calls are read from the source (:mod:`pairs.data.catalog`), so this module and the
listing import neither torch nor any domain library. Loading a spec imports only the module declaring it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pairs.data import catalog
from pairs.errors import DataError
from pairs.registry import Registry, qualified_name

if TYPE_CHECKING:
    from torch import Tensor


@dataclass
class DataBundle:
    """Loaded data: samples of one domain with an optional held-out split and labels.

    Attributes:
        spec: the data spec it was loaded from.
        domain: ``"image"``, ``"text"``, ``"audio"``, ``"graph"`` or ``"series"``.
        train: training samples: a :class:`~pairs.data.source.Source` read on demand (a user's files), or,
            for data that ships in packages, a tensor with samples along dim 0 or a list of samples.
            :func:`pairs.data.source.as_source` turns either into a source.
        train_labels: ``(N_train,)`` int64 labels, or ``None`` for unlabeled data (taken from
            ``train.labels`` when ``train`` is a source and none are given).
        test: held-out samples (same kind as ``train``), or ``None``.
        test_labels: ``(N_test,)`` labels, or ``None`` (from ``test.labels`` likewise).
        info: free-form facts (shape, number of classes, sample rate, where the split comes from ...).
    """

    spec: str
    domain: str
    train: Any
    train_labels: Tensor | None = None
    test: Any = None
    test_labels: Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from pairs.data.source import Source

        if self.train_labels is None and isinstance(self.train, Source):
            self.train_labels = self.train.labels
        if self.test_labels is None and isinstance(self.test, Source):
            self.test_labels = self.test.labels

    @classmethod
    def from_split(
        cls,
        spec: str,
        domain: str,
        samples: Any,
        labels: Tensor,
        train: Any,
        test: Any,
        info: dict[str, Any],
    ) -> DataBundle:
        """A bundle of the samples and labels at positions ``train`` and ``test`` (a held-out split).

        Args:
            spec: the data spec.
            domain: the samples' domain.
            samples: a tensor (indexed with the positions), a list (one item per position) or a lazy
                source with a ``subset(positions)`` method (:class:`~pairs.data.graph_formats.GraphSource`).
            labels: ``(N,)`` labels of ``samples``.
            train: positions of the training split (an integer array or tensor).
            test: positions of the held-out split.
            info: the bundle's facts.
        """

        def at(positions: Any) -> Any:
            subset = getattr(samples, "subset", None)
            if subset is not None:
                return subset(positions)
            if isinstance(samples, list):
                return [samples[i] for i in positions]
            return samples[positions]

        return cls(spec, domain, at(train), labels[train], at(test), labels[test], info)

    @property
    def streamed(self) -> bool:
        """Whether the training data is a source read item by item (not in memory)."""
        from pairs.data.source import is_streamed

        return is_streamed(self.train)

    @property
    def n_classes(self) -> int | None:
        """Number of classes, when labels exist."""
        import torch

        if self.train_labels is None:
            return None
        labels = (
            self.train_labels
            if self.test_labels is None
            else torch.cat([self.train_labels, self.test_labels])
        )
        return int(labels.max().item()) + 1


@dataclass
class _Entry:
    name: str
    loader: Callable[[str | None], DataBundle]
    domain: str
    description: str
    argument: str | None  # None: takes no argument; else what the argument is (e.g. "DIR")


def _declaring_module(name: str) -> list[str]:
    """The loader module that declares spec ``name`` in its source (none when no module declares it)."""
    return [d.module for d in catalog.declared_specs() if d.name == name]


def _usages() -> list[str]:
    return [usage for usage, _, _ in known_specs()]


DATA: Registry[_Entry] = Registry(
    "data spec",
    plural="specs",
    modules=catalog.loader_modules,
    locate=_declaring_module,
    error=DataError,
    identity=lambda e: qualified_name(e.loader),
    listing=_usages,
)
"""Every data spec by name. Listing the specs reads the loader modules' source (:mod:`pairs.data.catalog`);
loading one imports only the module declaring it."""


def register_data(
    name: str,
    loader: Callable[[str | None], DataBundle],
    *,
    domain: str,
    description: str,
    argument: str | None = None,
) -> None:
    """Register a data spec.

    Args:
        name: the spec name (the part before ``:``).
        loader: ``(argument or None) -> DataBundle``; raises ``ValueError`` for bad arguments or data.
        domain: the domain of the data (``"image"``, ``"text"``, ``"audio"``, ``"graph"``, ``"series"``).
        description: one line for ``pairs data``.
        argument: name of the argument after ``:`` (``"DIR"``, ``"FILE"``, ``"NAME"``), or ``None``.

    Raises:
        ValueError: ``name`` is already registered with a different loader.
    """
    DATA.add(name, _Entry(name, loader, domain, description, argument))


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split ``"name:argument"`` into ``("name", "argument")`` (argument ``None`` when absent)."""
    if not isinstance(spec, str) or not spec.strip():
        raise DataError(f"a data spec must be a non-empty string such as 'digits', got {spec!r}")
    name, sep, arg = spec.strip().partition(":")
    return name, (arg if sep else None)


def known_specs() -> list[tuple[str, str, str]]:
    """``[(usage, domain, description), ...]`` of every data spec, for ``pairs data``.

    Specs of loader modules not imported yet are read from their source (:mod:`pairs.data.catalog`), so
    this imports nothing heavy; specs registered at run time (by the user's own modules) are listed too.
    """
    entries = {d.name: (d.name, d.domain, d.description, d.argument) for d in catalog.declared_specs()}
    entries.update({e.name: (e.name, e.domain, e.description, e.argument) for e in DATA.loaded().values()})
    return [
        (name if argument is None else f"{name}:{argument}", domain, description)
        for name, domain, description, argument in sorted(entries.values())
    ]


def _lookup(spec: str) -> tuple[_Entry, str | None]:
    name, arg = parse_spec(spec)
    entry = DATA.get(name)
    if entry.argument is None and arg is not None:
        raise DataError(f"data spec {name!r} takes no argument, got {spec!r}")
    if entry.argument is not None and not arg:
        raise DataError(f"data spec {name!r} needs an argument: use '{name}:{entry.argument}'")
    return entry, arg


def load_data(spec: str) -> DataBundle:
    """Load a data spec into a :class:`DataBundle`.

    Raises:
        ValueError: for an unknown spec (the message lists the known ones), a missing argument, missing
            files or unusable data.
    """
    entry, arg = _lookup(spec)
    return entry.loader(arg)


def take_samples(data: Any, index: Sequence[int] | Tensor) -> Any:
    """Select samples by position from a tensor, a list or a source (a tensor gives a tensor, a list or a
    source of non-tensor items a list, a source of tensor items a stacked tensor)."""
    import torch

    from pairs.data.source import Source
    from pairs.data.source import take as take_items

    if isinstance(data, torch.Tensor):
        index = torch.as_tensor(index, dtype=torch.long)
        return data.index_select(0, index)
    if isinstance(data, Source):
        return take_items(data, index)
    return [data[int(i)] for i in index]


def n_samples(data: Any) -> int:
    """Number of samples in a tensor (dim 0), a list or a source."""
    from pairs.data.source import n_items

    return n_items(data)
