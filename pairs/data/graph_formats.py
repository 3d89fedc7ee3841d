"""Readers for the graph formats users hold: TU folders, graph-file folders, saved PyG datasets, molecules.

Every reader here returns a *graph source*: a map-style dataset (``torch.utils.data.Dataset``) that knows
its items at start and builds one ``torch_geometric.data.Data`` on demand. A source has

* ``len(source)`` and ``source[i]`` (a ``Data``; ``source[a:b]`` gives a list), iteration in order;
* ``source.item_id(i)``: a stable id of item ``i`` (``/abs/folder/MUTAG#5``, ``/abs/file.csv:12``,
  ``/abs/dir/class/g.graphml``), so any graph can be mapped back to where it came from;
* ``source.labels``: ``(N,)`` int64 graph labels known at index time, or ``None``;
* ``source.domain == "graph"``, ``source.has_node_features`` (every item has ``x``), ``source.num_features``;
* ``source.subset(indices)``: a lazy source over some items (train/test splits keep nothing decoded).

Formats (none of them is ever unpickled):

* **TU folder** (:func:`read_tu_folder`): ``DS_A.txt``, ``DS_graph_indicator.txt``, ``DS_graph_labels.txt``
  (or ``DS_graph_attributes.txt``), optional ``DS_node_labels.txt``, ``DS_node_attributes.txt``,
  ``DS_edge_labels.txt``, ``DS_edge_attributes.txt`` (the format of the TU collection, Morris et al. 2020).
  The text files are parsed here, with exactly the conventions of PyG's ``read_tu_data`` + ``TUDataset``
  (1-based ids, labels shifted to start at 0 and one-hot encoded per column, self-loops removed, edges
  coalesced, graph labels renumbered by ``unique``), so ``tu:MUTAG`` gives the same tensors as
  ``TUDataset`` did, without PyG's processed pickle cache.
* **Folder of graph files** (:class:`GraphFileFolder`): ``.graphml``, ``.gml``, ``.edgelist``/``.edges``
  (whitespace-separated ``u v`` lines, ``#`` comments), read with networkx on demand. Files in class
  subfolders (``DIR/CLASS/file``) are labelled by their folder, as torchvision's ``ImageFolder`` does.
  Numeric node attributes present on every node become ``x`` (in sorted attribute order).
* **Saved PyG dataset** (:func:`load_pyg_dataset`): the ``processed/*.pt`` file of an ``InMemoryDataset``
  (or its root folder), read with ``torch.load(weights_only=True)`` only.
* **Molecules** (:class:`MoleculeSource`): SMILES, one per line in a ``.smi``/``.txt`` file (an optional
  second column is a name) or a column of a ``.csv``/``.tsv`` file; or an ``.sdf`` file. Lines, rows and
  records are indexed by byte offset at start (nothing parsed); each molecule is turned into a graph by
  RDKit when it is read (PyG's ``from_rdmol``), with node features the one-hot concatenation of PyG's
  9 categorical atom features (``x`` ``(n, 177)`` float32) and edge features the one-hot of its 3 bond
  features (``edge_attr`` ``(e, 30)``).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from pairs.data.source import Source
from pairs.errors import DataError, DependencyError

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = [
    "GRAPH_FILE_SUFFIXES",
    "GraphFileFolder",
    "GraphSource",
    "MoleculeSource",
    "TUGraphs",
    "find_tu_prefix",
    "load_pyg_dataset",
    "molecule_features",
    "read_tu_folder",
]

log = logging.getLogger("pairs")

GRAPH_FILE_SUFFIXES = (".graphml", ".gml", ".edgelist", ".edges")
"""File endings read by :class:`GraphFileFolder`."""


# --------------------------------------------------------------------------------------------------
# The common source shape
# --------------------------------------------------------------------------------------------------
class GraphSource(Source):
    """Base of the graph sources (a :class:`pairs.data.source.Source`): ``len``, ``[i]`` (and slices),
    ``item_id``, ``labels``, ``classes``, ``subset``.

    Subclasses implement :meth:`__len__`, :meth:`get` and :meth:`item_id` and set ``labels``/``classes``.
    """

    domain = "graph"
    labels: Tensor | None = None
    has_node_features: bool = False
    num_features: int = 0

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def get(self, i: int) -> Data:  # pragma: no cover - abstract
        """Build item ``i`` (``0 <= i < len(self)``)."""
        raise NotImplementedError

    def item_id(self, i: int) -> str:  # pragma: no cover - abstract
        """A stable id of item ``i`` (where it came from)."""
        raise NotImplementedError

    def _index(self, i: int) -> int:
        n = len(self)
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"graph index {i} out of range for {n} graphs")
        return i

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self.get(j) for j in range(*i.indices(len(self)))]
        return self.get(self._index(i))

    def __iter__(self) -> Iterator[Data]:
        for i in range(len(self)):
            yield self.get(i)

    def subset(self, indices: Sequence[int] | Tensor | np.ndarray) -> GraphSubset:
        """A lazy source over ``indices`` (positions in this source)."""
        return GraphSubset(self, indices)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} graphs)"


class GraphSubset(GraphSource):
    """Some items of a graph source, in the given order (nothing decoded)."""

    def __init__(self, parent: GraphSource, indices: Sequence[int] | Tensor | np.ndarray) -> None:
        super().__init__()
        self.parent = parent
        self.classes = list(getattr(parent, "classes", []))
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.labels = None if parent.labels is None else parent.labels[torch.from_numpy(self.indices)]
        self.has_node_features = parent.has_node_features
        self.num_features = parent.num_features

    def __len__(self) -> int:
        return len(self.indices)

    def get(self, i: int) -> Data:
        return self.parent.get(int(self.indices[i]))

    def item_id(self, i: int) -> str:
        return self.parent.item_id(int(self.indices[self._index(i)]))


# --------------------------------------------------------------------------------------------------
# TU folders
# --------------------------------------------------------------------------------------------------
def find_tu_prefix(folder: Path) -> str:
    """The ``DS`` of a TU folder's ``DS_A.txt`` (also looks in ``folder/raw``)."""
    hits = sorted(p.name[: -len("_A.txt")] for p in folder.glob("*_A.txt"))
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise DataError(
            f"{folder} is not a TU-format folder: expected DS_A.txt, DS_graph_indicator.txt and "
            "DS_graph_labels.txt (plus optional DS_node_labels.txt, DS_node_attributes.txt, "
            "DS_edge_labels.txt)"
        )
    raise DataError(f"{folder} holds several TU sets ({', '.join(hits)}); name one as tu:DIR@NAME")


def _read_numbers(path: Path, dtype: Any) -> np.ndarray:
    """A comma-separated text table as a 2-D array (one row per non-empty line)."""
    try:
        with open(path, encoding="utf-8") as f:
            rows = [line for line in f if line.strip()]
        if not rows:
            return np.zeros((0, 1), dtype=dtype)
        if dtype is np.int64:
            table = np.array([[int(v) for v in r.split(",")] for r in rows], dtype=np.int64)
        else:
            table = np.array([[float(v) for v in r.split(",")] for r in rows], dtype=np.float64)
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(
            f"{path}: expected comma-separated {'integers' if dtype is np.int64 else 'numbers'}, one row per "
            f"line (TU format): {err}"
        ) from None
    return table


def _one_hot_columns(labels: np.ndarray) -> Tensor:
    """PyG's TU label encoding: shift each column to start at 0, one-hot it, concatenate the columns."""
    from torch_geometric.utils import one_hot

    t = torch.from_numpy(labels)
    t = t - t.min(dim=0)[0]
    parts = [one_hot(c) for c in t.unbind(dim=-1)]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


class TUGraphs(GraphSource):
    """A TU-format graph set parsed from its text files (see :func:`read_tu_folder`).

    The set is held as a few concatenated tensors and per-graph slices; ``source[i]`` cuts graph ``i``
    out of them (as PyG's ``InMemoryDataset`` does). ``item_id(i)`` is ``/abs/folder/DS#<i+1>`` (TU graph
    ids are 1-based).

    Attributes:
        name: the set's ``DS`` prefix.
        folder: the folder the files were read from.
        num_node_labels, num_node_attributes, num_edge_labels, num_edge_attributes: column counts, as
            PyG's ``TUDataset`` reports them.
        num_classes: number of graph classes (0 for a regression set or none).
    """

    def __init__(
        self,
        folder: str | Path,
        name: str | None = None,
        use_node_attr: bool = False,
        use_edge_attr: bool = False,
    ) -> None:
        from torch_geometric.utils import coalesce, cumsum, remove_self_loops

        super().__init__()
        folder = Path(folder).expanduser().resolve()
        if not folder.is_dir():
            raise DataError(f"TU folder {str(folder)!r} does not exist")
        if name is None:
            name = find_tu_prefix(folder)
        self.name, self.folder = name, folder

        def file(kind: str) -> Path:
            return folder / f"{name}_{kind}.txt"

        for kind in ("A", "graph_indicator"):
            if not file(kind).is_file():
                raise DataError(
                    f"{folder}: TU set {name!r} lacks {file(kind).name}; a TU folder needs DS_A.txt, "
                    "DS_graph_indicator.txt and DS_graph_labels.txt"
                )
        edges = _read_numbers(file("A"), np.int64)
        batch_np = _read_numbers(file("graph_indicator"), np.int64)[:, 0] - 1
        if edges.shape[1] != 2:
            raise DataError(f"{file('A')}: expected 'src, dst' pairs, got {edges.shape[1]} columns")
        n_nodes = len(batch_np)
        if n_nodes == 0:
            raise DataError(f"{file('graph_indicator')}: no nodes")
        if np.any(np.diff(batch_np) < 0) or batch_np[0] != 0:
            raise DataError(
                f"{file('graph_indicator')}: graph ids must start at 1 and never decrease (nodes of a graph "
                "are consecutive in the TU format)"
            )
        if edges.size and (edges.min() < 1 or edges.max() > n_nodes):
            raise DataError(f"{file('A')}: node ids must lie in [1, {n_nodes}] (the indicator's length)")
        edge_index = torch.from_numpy(edges).t().contiguous() - 1
        batch = torch.from_numpy(batch_np)

        def columns(name: str, rows: int) -> Tensor:
            """An optional file's columns: floats (``*_attributes``) or one-hot codes (``*_labels``);
            ``(rows, 0)`` when the file is absent."""
            if not file(name).is_file():
                return torch.empty((rows, 0))
            if name.endswith("_labels"):
                return _one_hot_columns(_read_numbers(file(name), np.int64))
            return torch.from_numpy(_read_numbers(file(name), float)).float()

        node_attribute = columns("node_attributes", n_nodes)
        node_label = columns("node_labels", n_nodes)
        n_edges = edge_index.shape[1]
        edge_attribute = columns("edge_attributes", n_edges)
        edge_label = columns("edge_labels", n_edges)
        for what, t, n in (
            ("node_attributes", node_attribute, n_nodes),
            ("node_labels", node_label, n_nodes),
            ("edge_attributes", edge_attribute, n_edges),
            ("edge_labels", edge_label, n_edges),
        ):
            if t.shape[1] and t.shape[0] != n:
                raise DataError(
                    f"{file(what)}: {t.shape[0]} rows, expected {n} (one per line of the A/indicator file)"
                )

        y: Tensor | None = None
        self.num_classes = 0
        if file("graph_attributes").is_file():  # regression, as PyG reads it
            y = torch.from_numpy(_read_numbers(file("graph_attributes"), float)).float().squeeze(-1)
        elif file("graph_labels").is_file():
            raw = torch.from_numpy(_read_numbers(file("graph_labels"), np.int64)[:, 0])
            classes, y = raw.unique(sorted=True, return_inverse=True)
            self.num_classes = len(classes)
            self.classes = [str(int(c)) for c in classes]
        n_graphs = int(batch_np[-1]) + 1
        if y is not None and y.shape[0] != n_graphs:
            raise DataError(f"{folder}: {y.shape[0]} graph labels for {n_graphs} graphs")

        # use_node_attr / use_edge_attr as TUDataset applies them: attributes are dropped unless asked for
        x_parts = ([node_attribute] if use_node_attr else []) + [node_label]
        x = torch.cat(x_parts, dim=-1) if sum(p.shape[1] for p in x_parts) else None
        e_parts = ([edge_attribute] if use_edge_attr else []) + [edge_label]
        edge_attr = torch.cat(e_parts, dim=-1) if sum(p.shape[1] for p in e_parts) else None
        edge_index, edge_attr = remove_self_loops(edge_index, edge_attr)
        edge_index, edge_attr = coalesce(edge_index, edge_attr, n_nodes)

        self.node_slice = cumsum(torch.bincount(batch, minlength=n_graphs))
        self.edge_slice = cumsum(torch.bincount(batch[edge_index[0]], minlength=n_graphs))
        self.x, self.edge_index, self.edge_attr, self.y = x, edge_index, edge_attr, y
        self.labels = y if self.num_classes else None
        self.has_node_features = x is not None
        self.num_features = 0 if x is None else int(x.shape[1])
        self.num_node_attributes = int(node_attribute.shape[1])
        self.num_node_labels = int(node_label.shape[1])
        self.num_edge_attributes = int(edge_attribute.shape[1])
        self.num_edge_labels = int(edge_label.shape[1])

    def __len__(self) -> int:
        return len(self.node_slice) - 1

    def get(self, i: int) -> Data:
        from torch_geometric.data import Data

        n0, n1 = int(self.node_slice[i]), int(self.node_slice[i + 1])
        e0, e1 = int(self.edge_slice[i]), int(self.edge_slice[i + 1])
        data = Data(edge_index=self.edge_index[:, e0:e1] - n0)
        if self.x is not None:
            data.x = self.x[n0:n1]
        else:
            data.num_nodes = n1 - n0
        if self.edge_attr is not None:
            data.edge_attr = self.edge_attr[e0:e1]
        if self.y is not None:
            data.y = self.y[i : i + 1]
        return data

    def item_id(self, i: int) -> str:
        return f"{self.folder / self.name}#{self._index(i) + 1}"


def read_tu_folder(
    folder: str | Path, name: str | None = None, use_node_attr: bool = False, use_edge_attr: bool = False
) -> TUGraphs:
    """Read a TU-format folder (text files only; nothing cached, nothing unpickled).

    Args:
        folder: the folder holding ``DS_A.txt`` etc. (the ``DS`` is found when there is only one set).
        name: the ``DS`` prefix, when the folder holds several sets.
        use_node_attr: put the continuous node attributes before the one-hot node labels in ``x`` (as
            ``TUDataset(use_node_attr=True)``); by default ``x`` is the one-hot node labels only.
        use_edge_attr: likewise for ``edge_attr``.

    Returns:
        A :class:`TUGraphs` source; MUTAG: 188 graphs, ``x`` ``(n, 7)``, ``edge_attr`` ``(e, 4)``, ``y`` in
        {0, 1}.

    Raises:
        DataError: if the folder is not a TU folder or a file is malformed (the message names the file).
    """
    return TUGraphs(folder, name, use_node_attr, use_edge_attr)


# --------------------------------------------------------------------------------------------------
# Folders of GraphML / GML / edge-list files
# --------------------------------------------------------------------------------------------------
def _read_networkx(path: Path) -> Any:
    import networkx as nx

    suffix = path.suffix.lower()
    try:
        if suffix == ".graphml":
            return nx.read_graphml(path)
        if suffix == ".gml":
            return nx.read_gml(path, label=None)
        return nx.read_edgelist(path, comments="#", nodetype=str, data=False)
    except Exception as err:  # networkx raises many kinds for a malformed file
        first = (str(err).splitlines() or [""])[0]
        kind = {".graphml": "GraphML", ".gml": "GML"}.get(suffix, "an edge list ('u v' per line)")
        raise DataError(f"{path}: cannot read it as {kind} ({type(err).__name__}: {first})") from None


def _numeric(value: Any) -> list[float] | None:
    if isinstance(value, bool):
        return [float(value)]
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value):
        return [float(v) for v in value]
    return None


def networkx_to_data(graph: Any, path: Path | str = "") -> Data:
    """A networkx graph as an undirected PyG ``Data`` (both edge directions, self-loops dropped).

    Node ``i`` is ``list(graph.nodes)[i]``; numeric node attributes present on every node become ``x``
    (sorted by attribute name); without any, ``x`` is absent (the graph recipe adds one-hot degrees).
    """
    from torch_geometric.data import Data
    from torch_geometric.utils import coalesce

    nodes = list(graph.nodes)
    pos = {v: i for i, v in enumerate(nodes)}
    pairs = [(pos[u], pos[v]) for u, v in graph.edges() if u != v]
    if pairs:
        ei = torch.tensor(pairs, dtype=torch.long).t()
        ei = coalesce(torch.cat([ei, ei.flip(0)], dim=1), num_nodes=len(nodes))
    else:
        ei = torch.zeros(2, 0, dtype=torch.long)
    data = Data(edge_index=ei, num_nodes=len(nodes))
    if nodes:
        keys = sorted(set.intersection(*(set(graph.nodes[v]) for v in nodes)))
        cols = []
        for key in keys:
            values = [_numeric(graph.nodes[v][key]) for v in nodes]
            numeric = [v for v in values if v is not None]
            if len(numeric) == len(values) and len({len(v) for v in numeric}) == 1:
                cols.append(torch.tensor(numeric, dtype=torch.float32))
        if cols:
            data.x = torch.cat(cols, dim=1)
    return data


class GraphFileFolder(GraphSource):
    """A folder of graph files (``.graphml``, ``.gml``, ``.edgelist``, ``.edges``), one graph per file.

    Indexing lists the files (sorted paths); a file is parsed by networkx when its item is read. Files in
    class subfolders (every file at depth 1 below ``DIR``) take their folder's name as class, classes
    sorted by name (``class_names``); files directly in ``DIR`` make an unlabelled set. The node features
    are decided from the first file (numeric attributes on every node, or none).

    Args:
        root: the folder.

    Raises:
        DataError: if the folder is missing or holds no graph files, or mixes labelled and unlabelled files.
    """

    def __init__(self, root: str | Path) -> None:
        super().__init__()
        root = Path(root).expanduser().resolve()
        if not root.is_dir():
            raise DataError(f"graph folder {str(root)!r} does not exist")
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in GRAPH_FILE_SUFFIXES)
        if not files:
            raise DataError(
                f"{root}: no graph files found; expected {', '.join(GRAPH_FILE_SUFFIXES)} files (one graph "
                "each), optionally in one subfolder per class"
            )
        depths = {len(p.relative_to(root).parts) for p in files}
        if depths not in ({1}, {2}):
            raise DataError(
                f"{root}: put all graph files either directly in the folder (unlabelled) or in one subfolder "
                "per class (labelled), not both or deeper"
            )
        self.root, self.files = root, files
        self.class_names: list[str] = []
        if depths == {2}:
            self.class_names = sorted({p.parent.name for p in files})
            index = {c: k for k, c in enumerate(self.class_names)}
            self.labels = torch.tensor([index[p.parent.name] for p in files], dtype=torch.long)
            self.classes = list(self.class_names)
        first = self.get(0)
        self.has_node_features = "x" in first and first.x is not None
        self.num_features = int(first.x.shape[1]) if self.has_node_features else 0

    def __len__(self) -> int:
        return len(self.files)

    def get(self, i: int) -> Data:
        path = self.files[i]
        data = networkx_to_data(_read_networkx(path), path)
        if self.labels is not None:
            data.y = self.labels[i : i + 1].clone()
        if i:  # the first file (read at start) decided the features
            has_x = "x" in data and data.x is not None
            if has_x != self.has_node_features or (has_x and data.x.shape[1] != self.num_features):
                raise DataError(
                    f"{path}: node features differ from the folder's first file ({self.num_features} "
                    "numeric attributes on every node); give all graphs the same node attributes or none"
                )
        return data

    def item_id(self, i: int) -> str:
        return str(self.files[self._index(i)])


# --------------------------------------------------------------------------------------------------
# Saved PyG datasets
# --------------------------------------------------------------------------------------------------
def load_pyg_dataset(path: str | Path) -> list[Data]:
    """The graphs of a saved PyG ``InMemoryDataset``: its ``processed/*.pt`` file, or the dataset root.

    The file is read with ``torch.load(weights_only=True)`` only (PyG registers its ``Data`` classes as
    safe); a file that needs full unpickling is refused, never run.

    Args:
        path: ``.../processed/data.pt`` or a folder holding ``processed/data.pt`` (or one ``.pt`` file).

    Returns:
        The graphs, in order.

    Raises:
        DataError: if the file is missing, needs unpickling, or is not an ``InMemoryDataset`` file.
    """
    import torch_geometric  # noqa: F401  (registers Data & co. as safe globals for weights_only loads)
    from torch_geometric.data import Data
    from torch_geometric.data.separate import separate

    path = Path(path).expanduser().resolve()
    if path.is_dir():
        candidates = sorted((path / "processed").glob("*.pt")) or sorted(path.glob("*.pt"))
        candidates = [p for p in candidates if p.name not in ("pre_filter.pt", "pre_transform.pt")]
        if len(candidates) != 1:
            raise DataError(
                f"{path}: expected one processed .pt file of a saved PyG dataset (processed/data.pt), found "
                f"{len(candidates)}"
            )
        path = candidates[0]
    if not path.is_file():
        raise DataError(f"saved PyG dataset {str(path)!r} does not exist")
    try:
        out = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        first = (str(err).splitlines() or [""])[0][:200]
        raise DataError(
            f"{path}: not readable as a saved PyG dataset with torch.load(weights_only=True) "
            f"({type(err).__name__}: {first}); files that need unpickling are refused"
        ) from None
    if not (isinstance(out, tuple) and len(out) in (3, 4) and isinstance(out[1], dict)):
        raise DataError(
            f"{path}: expected a PyG InMemoryDataset file (data, slices, sizes[, data class]), got "
            f"{type(out).__name__}"
        )
    data, slices = out[0], out[1]
    cls: type[Data] = Data
    if len(out) == 4 and isinstance(out[3], type) and issubclass(out[3], Data):
        cls = out[3]
    if isinstance(data, dict):
        data = cls.from_dict(data)
    if not isinstance(data, Data):
        raise DataError(f"{path}: the dataset's data is a {type(data).__name__}, expected a PyG Data")
    if not slices:
        return [data]
    n = len(next(iter(slices.values()))) - 1
    return [
        separate(cls=data.__class__, batch=data, idx=i, slice_dict=slices, decrement=False) for i in range(n)
    ]


# --------------------------------------------------------------------------------------------------
# Molecules: SMILES and SDF, through RDKit
# --------------------------------------------------------------------------------------------------
def _rdkit() -> Any:
    try:
        from rdkit import Chem, RDLogger
    except ImportError as err:
        raise DependencyError(
            f"molecule data needs RDKit, which does not import ({err}): pip install rdkit"
        ) from None
    RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]  # missing from RDKit's stubs
    return Chem


def _feature_sizes() -> tuple[list[int], list[int]]:
    from torch_geometric.utils.smiles import e_map, x_map

    return [len(v) for v in x_map.values()], [len(v) for v in e_map.values()]


def molecule_features(codes: Tensor, sizes: Sequence[int]) -> Tensor:
    """One-hot concatenation of categorical feature codes (PyG's ``from_rdmol`` indices).

    Args:
        codes: ``(n, K)`` int64 category indices.
        sizes: the ``K`` category counts.

    Returns:
        ``(n, sum(sizes))`` float32 one-hot features.
    """
    offsets = torch.tensor([0, *np.cumsum(sizes)[:-1].tolist()], dtype=torch.long)
    out = torch.zeros(codes.shape[0], int(sum(sizes)), dtype=torch.float32)
    if codes.numel():
        out.scatter_(1, codes + offsets, 1.0)
    return out


def _line_offsets(path: Path, skip_first: bool, chunk: int = 1 << 24) -> np.ndarray:
    """Byte offsets of the non-empty lines of a text file (the first one skipped if asked).

    The file is scanned in chunks for newline bytes with numpy (1.6 million lines in well under a
    second); only the ``(N,)`` int64 offsets are kept.
    """
    newlines = []
    size = 0
    with open(path, "rb") as f:
        while True:
            buf = f.read(chunk)
            if not buf:
                break
            newlines.append(np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10) + size)
            size += len(buf)
    nl = np.concatenate(newlines) if newlines else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], nl + 1]).astype(np.int64)
    ends = np.concatenate([nl, [size]]).astype(np.int64)
    lengths = ends - starts
    if len(starts):  # a line that is only "\r" (CRLF files) is empty too
        with open(path, "rb") as f:
            data = np.memmap(f, dtype=np.uint8, mode="r") if size else np.zeros(0, dtype=np.uint8)
            one = (lengths == 1) & (starts < size)
            cr = np.zeros(len(starts), dtype=bool)
            cr[one] = data[starts[one]] == 13
    else:
        cr = np.zeros(0, dtype=bool)
    offsets = starts[(lengths > 0) & ~cr & (starts < size)]
    return offsets[1:] if skip_first and len(offsets) else offsets


def _parse_options(text: str, allowed: Sequence[str], spec: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in allowed or not value.strip():
            raise DataError(
                f"{spec}: bad option {part!r}; expected KEY=VALUE with KEY one of {', '.join(allowed)}"
            )
        options[key.strip()] = value.strip()
    return options


class MoleculeSource(GraphSource):
    """Molecules indexed at start (byte offsets) and turned into graphs by RDKit when read.

    Args:
        path: a ``.smi``/``.txt`` file (one SMILES per line, optionally followed by whitespace and a
            name), a ``.csv``/``.tsv`` file with a SMILES column, or an ``.sdf`` file.
        column: the SMILES column of a CSV (default ``"smiles"``, any case).
        label: the label column of a CSV, or the SDF property holding the label; values are integers or
            class names (classes sorted by name, ``class_names``). ``None``: unlabelled.

    ``item_id(i)`` is ``/abs/file.csv:<r>`` (0-based data row), ``/abs/file.smi:<l>`` (1-based line) or
    ``/abs/file.sdf#<k>`` (0-based record), as :mod:`pairs.data.source` writes ids.
    An unparsable molecule raises :class:`DataError` naming its item id when it is read.

    Raises:
        DataError: for a missing file, an unknown column, or a file of another format.
    """

    def __init__(self, path: str | Path, column: str | None = None, label: str | None = None) -> None:
        super().__init__()
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_file():
            raise DataError(f"molecule file {str(self.path)!r} does not exist")
        suffix = self.path.suffix.lower()
        self.kind = {".csv": "csv", ".tsv": "csv", ".sdf": "sdf", ".smi": "smi", ".txt": "smi"}.get(suffix)
        if self.kind is None:
            raise DataError(
                f"{self.path}: expected SMILES as .smi/.txt (one per line) or a .csv/.tsv column, or an .sdf "
                f"file; got {suffix or 'no extension'}"
            )
        self.delimiter = "\t" if suffix == ".tsv" else ","
        self.x_sizes, self.e_sizes = _feature_sizes()
        self.has_node_features = True
        self.num_features = int(sum(self.x_sizes))
        self.class_names: list[str] = []
        raw_labels: list[str] | None = None
        if self.kind == "sdf":
            if column is not None:
                raise DataError(f"{self.path}: an SDF file has no SMILES column; drop column={column}")
            self.offsets, raw_labels = self._index_sdf(label)
        elif self.kind == "csv":
            self.offsets, raw_labels = self._index_csv(column or "smiles", label)
        else:
            if column is not None or label is not None:
                raise DataError(f"{self.path}: a .smi file has one SMILES per line, no columns or labels")
            self.offsets = _line_offsets(self.path, skip_first=False)
            self.lines = self.offsets  # kept for item ids
        if len(self.offsets) == 0:
            raise DataError(f"{self.path}: no molecules found")
        if raw_labels is not None:
            self.labels, self.class_names = _encode_labels(raw_labels, str(self.path))
            self.classes = list(self.class_names)
        self._file: Any = None
        self._pid: int | None = None

    # -- indexing ------------------------------------------------------------------------------------
    def _index_csv(self, column: str, label: str | None) -> tuple[np.ndarray, list[str] | None]:
        with open(self.path, encoding="utf-8", newline="") as f:
            header = next(csv.reader([f.readline()], delimiter=self.delimiter), [])
        names = [h.strip() for h in header]
        lower = {h.lower(): k for k, h in enumerate(names)}
        if column.lower() not in lower:
            raise DataError(
                f"{self.path}: no column {column!r}; columns are {', '.join(names)} (choose one with "
                "smiles:FILE@column=NAME)"
            )
        self.col = lower[column.lower()]
        label_col = None
        if label is not None:
            if label.lower() not in lower:
                raise DataError(f"{self.path}: no label column {label!r}; columns are {', '.join(names)}")
            label_col = lower[label.lower()]
        offsets = _line_offsets(self.path, skip_first=True)
        raw: list[str] | None = None
        if label_col is not None:  # labels are known at index time: one pass over the rows
            raw = []
            with open(self.path, encoding="utf-8", newline="") as f:
                f.readline()
                for k, row in enumerate(r for r in csv.reader(f, delimiter=self.delimiter) if r):
                    if label_col >= len(row):
                        raise DataError(f"{self.path}: data row {k + 1} has no {label!r} value")
                    raw.append(row[label_col].strip())
            if len(raw) != len(offsets):
                raise DataError(f"{self.path}: quoted line breaks inside rows are not supported")
        return offsets, raw

    def _index_sdf(self, label: str | None) -> tuple[np.ndarray, list[str] | None]:
        offsets = [0]
        raw: list[str] | None = [] if label is not None else None
        want = f"<{label}>" if label is not None else None
        value: str | None = None
        take_next = False
        pos = 0
        with open(self.path, "rb") as f:
            for line in f:
                pos += len(line)
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                if take_next:
                    value, take_next = text.strip(), False
                elif want is not None and text.startswith(">") and want in text:
                    take_next = True
                elif text.startswith("$$$$"):
                    if raw is not None:
                        if value is None:
                            raise DataError(f"{self.path}: record {len(offsets)} has no property {label!r}")
                        raw.append(value)
                    value = None
                    offsets.append(pos)
        if pos == 0:
            raise DataError(f"{self.path}: empty file")
        ends_with_record = offsets[-1] == pos
        starts = offsets[:-1] if ends_with_record else offsets
        self.ends = np.asarray(offsets[1:] if ends_with_record else [*offsets[1:], pos], dtype=np.int64)
        return np.asarray(starts, dtype=np.int64), raw

    # -- reading -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.offsets)

    def _handle(self) -> Any:
        if self._file is None or self._pid != os.getpid():  # one handle per process (DataLoader workers)
            self._file = open(self.path, "rb")  # noqa: SIM115 - kept open for the source's life
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_file"], state["_pid"] = None, None
        return state

    def _text(self, i: int) -> str:
        f = self._handle()
        f.seek(int(self.offsets[i]))
        if self.kind == "sdf":
            return f.read(int(self.ends[i]) - int(self.offsets[i])).decode("utf-8", "replace")
        return f.readline().decode("utf-8", "replace")

    def smiles(self, i: int) -> str:
        """The SMILES string of item ``i`` (``.smi``/``.csv`` files)."""
        line = self._text(self._index(i))
        if self.kind == "csv":
            row = next(csv.reader(io.StringIO(line), delimiter=self.delimiter), [])
            return row[self.col].strip() if self.col < len(row) else ""
        parts = line.split()
        return parts[0] if parts else ""

    def get(self, i: int) -> Data:
        from torch_geometric.utils import from_rdmol

        chem = _rdkit()
        if self.kind == "sdf":
            mol = chem.MolFromMolBlock(self._text(i), sanitize=True)
            what = "an SDF record"
        else:
            text = self.smiles(i)
            mol = chem.MolFromSmiles(text) if text else None
            what = f"SMILES {text!r}"
        if mol is None or mol.GetNumAtoms() == 0:
            raise DataError(f"{self.item_id(i)}: RDKit cannot parse {what} into a molecule")
        raw = from_rdmol(mol)
        data = type(raw)(
            x=molecule_features(raw.x, self.x_sizes),
            edge_index=raw.edge_index,
            edge_attr=molecule_features(raw.edge_attr, self.e_sizes),
        )
        if self.labels is not None:
            data.y = self.labels[i : i + 1].clone()
        return data

    def item_id(self, i: int) -> str:
        i = self._index(i)
        if self.kind == "sdf":
            return f"{self.path}#{i}"
        if self.kind == "csv":
            return f"{self.path}:{i}"
        return f"{self.path}:{_line_number(self.path, int(self.offsets[i]))}"


def _line_number(path: Path, offset: int) -> int:
    """1-based line number of a byte offset (counted on demand: ids are for humans, rarely asked)."""
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


def _encode_labels(raw: list[str], where: str) -> tuple[Tensor, list[str]]:
    """Integer labels as they are (when all are integers >= 0), else classes sorted by name."""
    try:
        numbers = [float(v) for v in raw]
    except ValueError:
        numbers = []
    if numbers and all(math.isfinite(v) and v.is_integer() and v >= 0 for v in numbers):
        values = [int(v) for v in numbers]
        return torch.tensor(values, dtype=torch.long), [str(v) for v in range(max(values) + 1)]
    if any(not v for v in raw):
        raise DataError(f"{where}: some labels are empty; give every molecule a label or none")
    names = sorted(set(raw))
    if len(names) > max(2, len(raw) // 2):
        raise DataError(
            f"{where}: the label column has {len(names)} distinct values for {len(raw)} molecules; it looks "
            "like a regression target, and graph labels here must be classes (integers or names)"
        )
    index = {c: k for k, c in enumerate(names)}
    return torch.tensor([index[v] for v in raw], dtype=torch.long), names


def stratified_split(
    labels: Tensor | None, n: int, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train/test positions: stratified by label when every class has >= 2 items, else random.

    Uses scikit-learn's ``train_test_split`` with ``random_state=seed``.
    """
    from sklearn.model_selection import train_test_split

    stratify = None
    if labels is not None:
        y = labels.numpy()
        counts = np.bincount(y)
        stratify = y if counts[counts > 0].min() >= 2 else None
    train, test = train_test_split(
        np.arange(n), test_size=test_fraction, stratify=stratify, random_state=seed
    )
    return np.sort(train), np.sort(test)
