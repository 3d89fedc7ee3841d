"""Graph data: TU sets shipped by grakel, networkx's real graphs, and the graph formats users hold.

Specs registered here:

* ``tu:NAME`` / ``tu:DIR``: a TU graph-classification set, either one whose original files ship in the
  PyPI package ``grakel`` (``grakel/tests/data/``: MUTAG, 188 molecules in 2 classes; Cuneiform, 267
  graphs in 30 classes) or a TU-format folder of your own (``DIR/DS_A.txt``, ``DS_graph_indicator.txt``,
  ``DS_graph_labels.txt``, optional node/edge labels and attributes; ``tu:DIR@DS`` when it holds several
  sets). The text files are parsed by :func:`pairs.data.graph_formats.read_tu_folder` (no PyG processed
  cache, nothing unpickled). Shipped sets are first copied, as text, to ``$PAIRS_CACHE/tu/NAME/raw``
  (default ``~/.cache/pairs``). A fixed stratified 80/20 split (``random_state=0``).
* ``karate``: Zachary's karate club (34 nodes, 78 edges) with networkx's 2 club labels.
* ``les_miserables``, ``davis_southern_women``, ``florentine_families``: networkx's real graphs.
* ``graphs:FILE`` / ``graphs:DIR``: a list of graphs saved with :func:`save_graph_file`; a saved PyG
  ``InMemoryDataset`` (its ``processed/data.pt`` or root folder; ``weights_only`` loads only); a folder
  of ``.graphml``/``.gml``/``.edgelist`` files (class subfolders give labels); or a TU folder.
* ``smiles:FILE``: molecules as SMILES, a ``.smi``/``.txt`` file (one per line) or a ``.csv``/``.tsv``
  column: ``smiles:FILE.csv@column=smiles,label=target`` (defaults: column ``smiles``, no label).
* ``sdf:FILE``: molecules in an SDF file, ``sdf:FILE@label=PROP`` for a class-label property.

Molecules are indexed at start (byte offsets) and turned into graphs by RDKit when read, so a file of
1.6 million SMILES starts in seconds (see :class:`pairs.data.graph_formats.MoleculeSource`).

The networkx graphs are single graphs for node-level work: the bundle's ``train`` is ``[data]``, node
labels (when any) are ``data.y`` and ``info["level"] == "node"``.
"""

from __future__ import annotations

import importlib.util
import numbers
import os
import pickle
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import torch
from torch import Tensor

from pairs.data.graph_formats import (
    GRAPH_FILE_SUFFIXES,
    GraphFileFolder,
    GraphSource,
    MoleculeSource,
    TUGraphs,
    _parse_options,
    load_pyg_dataset,
    read_tu_folder,
    stratified_split,
)
from pairs.data.registry import DataBundle, register_data
from pairs.errors import DataError, DataTypeError, DependencyError, first_line

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
    """Where shipped TU sets are copied as text: ``$PAIRS_CACHE/tu``, else ``~/.cache/pairs/tu``."""
    env = os.environ.get("PAIRS_CACHE")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "pairs") / "tu"


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


def load_tu(name: str, root: str | Path | None = None, use_node_attr: bool = False) -> TUGraphs:
    """A TU graph-classification set from the files shipped offline by grakel, parsed as text.

    The raw text files are copied to ``<root>/<NAME>/raw/`` and read from there by
    :func:`~pairs.data.graph_formats.read_tu_folder`, which gives the same tensors as PyG's ``TUDataset``.
    Nothing under ``<root>`` is ever unpickled (PyG's ``processed/*.pt`` files are neither read nor written).

    Args:
        name: the set's name (case-insensitive), e.g. ``"MUTAG"``; see :func:`available_tu`.
        root: folder for the raw files (default :func:`default_root`, which honours ``$PAIRS_CACHE``).
        use_node_attr: also use continuous node attributes when the set has them (as ``TUDataset``).

    Returns:
        A :class:`~pairs.data.graph_formats.TUGraphs` source: MUTAG has 188 graphs, ``x`` one-hot atom
        types ``(n, 7)``, ``edge_attr`` one-hot bond types ``(e, 4)`` and ``y`` in {0, 1}.

    Raises:
        DependencyError: if grakel is not installed.
        DataError: if ``name`` is not shipped (the message lists the names available offline).
    """
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"load_tu needs a dataset name such as 'MUTAG', got {name!r}")
    source = _grakel_data_dir()
    if source is None:
        raise DependencyError(
            "TU datasets are read from the files shipped by the grakel package, which is not installed: "
            "pip install grakel (needs Python < 3.13)"
        )
    shipped = {n.lower(): n for n in available_tu()}
    real = shipped.get(name.strip().lower())
    if real is None:
        raise DataError(
            f"TU dataset {name!r} is not available offline; available: "
            f"{', '.join(sorted(shipped.values())) or '(none)'}; or give a TU-format folder as tu:DIR"
        )
    root = default_root() if root is None else Path(root).expanduser()
    raw = root / real / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for file in (source / real).iterdir():
        target = raw / file.name
        if file.is_file() and (not target.is_file() or target.stat().st_size != file.stat().st_size):
            tmp = raw / f".{file.name}.{os.getpid()}.tmp"
            shutil.copyfile(file, tmp)
            os.replace(tmp, target)  # atomic: concurrent runs never see half a file
    return read_tu_folder(raw, real, use_node_attr=use_node_attr)


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
    raise DataError(f"features must be 'onehot', 'degree' or 'constant', got {kind!r}")


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
        raise DataError(f"unknown networkx graph {name!r}; known: {', '.join(NETWORKX_GRAPHS)}")
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
            raise DataTypeError(
                f"save_graph_file: item {i} is a {type(data).__name__}, expected a torch_geometric Data"
            )
        record: dict[str, Any] = {}
        for key, value in data.to_dict().items():
            if isinstance(value, Tensor):
                record[key] = value.detach().cpu().as_subclass(Tensor)
            elif isinstance(value, _SCALARS):
                record[key] = value
            else:
                raise DataTypeError(
                    f"save_graph_file: graph {i} attribute {key!r} is a {type(value).__name__}; only tensors "
                    "and int/float/bool/str/None can be stored safely"
                )
        record.setdefault("num_nodes", int(data.num_nodes or 0))
        records.append(record)
    torch.save({"format": GRAPH_FILE_FORMAT, "version": 1, "graphs": records}, str(path))


def _graph_from_record(record: Any, i: int, path: Path) -> Data:
    from torch_geometric.data import Data

    if not isinstance(record, dict) or not all(isinstance(k, str) for k in record):
        raise DataError(f"{path}: graph {i} is a {type(record).__name__}, expected a dict of tensors")
    data = Data(**record)
    ei = record.get("edge_index")
    num_nodes = record.get("num_nodes")
    x = record.get("x")
    if num_nodes is None and isinstance(x, Tensor):
        num_nodes = x.shape[0]
    if not isinstance(num_nodes, numbers.Integral) or num_nodes < 0:
        raise DataError(f"{path}: graph {i} needs 'num_nodes' (int) or an 'x' tensor")
    if ei is None:
        data.edge_index = torch.zeros(2, 0, dtype=torch.long)
    elif not isinstance(ei, Tensor) or ei.dim() != 2 or ei.shape[0] != 2 or ei.dtype != torch.long:
        raise DataError(f"{path}: graph {i} edge_index must be a (2, E) int64 tensor")
    elif ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
        raise DataError(f"{path}: graph {i} edge_index has node ids outside [0, {num_nodes})")
    if isinstance(x, Tensor) and x.shape[0] != num_nodes:
        raise DataError(f"{path}: graph {i} has x with {x.shape[0]} rows but num_nodes = {num_nodes}")
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
        raise DataError(f"graph file {str(path)!r} does not exist")
    try:
        content = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling/format error means a bad file for the user
        if not zipfile.is_zipfile(path):
            why = "it is not a file written by torch.save (a zip archive)"
        elif isinstance(err, pickle.UnpicklingError):  # torch's text: paragraphs with terminal escapes
            why = "it holds pickled Python objects, which are not loaded"
        else:
            why = f"{type(err).__name__}: {first_line(str(err))}"
        raise DataError(
            f"cannot read {str(path)!r} as a safe graph file ({why}). "
            "Graph files must hold plain tensors (loaded with torch.load(weights_only=True)); a pickled list "
            "of Data objects is refused. Convert it once, from a trusted source, with "
            "pairs.data.graphs.save_graph_file(torch.load(path, weights_only=False), new_path)"
        ) from None
    if isinstance(content, dict):
        if content.get("format") != GRAPH_FILE_FORMAT or not isinstance(content.get("graphs"), list):
            raise DataError(
                f"{path}: expected a dict with format={GRAPH_FILE_FORMAT!r} and a 'graphs' list "
                "(written by save_graph_file)"
            )
        records = content["graphs"]
    elif isinstance(content, list):
        records = content
    else:
        raise DataError(f"{path}: expected a list of graphs, got a {type(content).__name__}")
    if not records:
        raise DataError(f"{path}: the file holds no graphs")
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
    return DataBundle.from_split(
        spec, "graph", graphs, labels, train, test, {**info, "split": "stratified 80%/20%, random_state=0"}
    )


def _source_bundle(spec: str, source: GraphSource, info: dict) -> DataBundle:
    """A bundle over a lazy source: labelled sets get the same stratified 80/20 split, as lazy subsets."""
    info = {
        **info,
        "level": "graph",
        "n_graphs": len(source),
        "num_features": source.num_features,
        "lazy": True,
    }
    labels = source.labels
    if labels is None or len(source) < 5:
        return DataBundle(spec, "graph", source, labels, None, None, {**info, "split": "none"})
    train, test = stratified_split(labels, len(source))
    return DataBundle.from_split(
        spec, "graph", source, labels, train, test, {**info, "split": "stratified 80%/20%, random_state=0"}
    )


def _path_and_options(arg: str | None, spec_name: str, allowed: Sequence[str]) -> tuple[Path, dict[str, str]]:
    """``PATH`` or ``PATH@KEY=VALUE,KEY=VALUE`` (the last ``@`` followed by ``KEY=``) -> (path, options)."""
    text = (arg or "").strip()
    head, sep, tail = text.rpartition("@")
    options: dict[str, str] = {}
    if sep and "=" in tail:
        options = _parse_options(tail, allowed, f"{spec_name}:{text}")
        text = head
    if not text:
        raise DataError(f"data spec {spec_name!r} needs a path: {spec_name}:PATH")
    return Path(text).expanduser().resolve(), options


def _tu_spec(arg: str | None) -> DataBundle:
    text = (arg or "").strip()
    folder, sep, name = text.rpartition("@")
    path = Path((folder if sep else text) or ".").expanduser()
    if path.is_dir() and ("/" in text or any(path.glob("*_A.txt"))):  # a TU folder of the user's
        source = read_tu_folder(path.resolve(), name if sep else None)
        info = {"source": f"TU folder {source.folder} ({source.name})", "num_classes": source.num_classes}
        spec = f"tu:{source.folder}" + (f"@{name}" if sep else "")
        return _source_bundle(spec, source, info)
    if "/" in text:
        raise DataError(f"TU folder {text!r} does not exist")
    dataset = load_tu(text)
    graphs = [dataset[i] for i in range(len(dataset))]  # shipped sets are small: kept in memory
    info = {"source": "grakel's TU files, parsed as text", "num_features": dataset.num_features}
    return _graph_bundle(f"tu:{arg}", graphs, info)


def _file_spec(arg: str | None) -> DataBundle:
    path, _ = _path_and_options(arg, "graphs", ())
    if path.is_dir():
        if any(path.glob("*_A.txt")):
            source: GraphSource = read_tu_folder(path)
            return _source_bundle(f"graphs:{path}", source, {"source": f"TU folder {path}"})
        if (path / "processed").is_dir():
            graphs = load_pyg_dataset(path)
            return _graph_bundle(f"graphs:{path}", graphs, {"source": f"saved PyG dataset {path}"})
        source = GraphFileFolder(path)
        info = {"source": f"graph files in {path}", "class_names": source.class_names}
        return _source_bundle(f"graphs:{path}", source, info)
    if path.suffix.lower() in GRAPH_FILE_SUFFIXES:
        raise DataError(
            f"{path}: graphs:PATH takes a folder of {', '.join(GRAPH_FILE_SUFFIXES)} files (one graph each), "
            "not a single one; put it in a folder"
        )
    if path.suffix.lower() in (".smi", ".csv", ".tsv", ".sdf"):
        kind = "sdf" if path.suffix.lower() == ".sdf" else "smiles"
        raise DataError(f"{path}: molecules are read by {kind}:{path} (graphs:FILE is for graph files)")
    try:
        graphs = load_graph_file(path)
        source_note = str(path)
    except ValueError as first_error:
        try:  # a saved PyG InMemoryDataset file (processed/data.pt)?
            graphs = load_pyg_dataset(path)
            source_note = f"saved PyG dataset {path}"
        except DataError:
            raise DataError(str(first_error)) from None
    return _graph_bundle(f"graphs:{path}", graphs, {"source": source_note})


def _smiles_spec(arg: str | None) -> DataBundle:
    path, options = _path_and_options(arg, "smiles", ("column", "label"))
    if path.suffix.lower() == ".sdf":
        raise DataError(f"{path}: an SDF file is read by sdf:{path}")
    source = MoleculeSource(path, column=options.get("column"), label=options.get("label"))
    spec = f"smiles:{path}" + (f"@{','.join(f'{k}={v}' for k, v in options.items())}" if options else "")
    info = {"source": f"SMILES in {path}, graphs by RDKit", "class_names": source.class_names}
    return _source_bundle(spec, source, info)


def _sdf_spec(arg: str | None) -> DataBundle:
    path, options = _path_and_options(arg, "sdf", ("label",))
    if path.suffix.lower() != ".sdf":
        raise DataError(f"{path}: sdf:FILE needs an .sdf file (SMILES go to smiles:FILE)")
    source = MoleculeSource(path, label=options.get("label"))
    spec = f"sdf:{path}" + (f"@label={options['label']}" if "label" in options else "")
    info = {"source": f"SDF records in {path}, graphs by RDKit", "class_names": source.class_names}
    return _source_bundle(spec, source, info)


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
    description="TU graph classification: shipped offline by grakel (MUTAG, Cuneiform) or your TU-format "
    "folder (DS_A.txt, DS_graph_indicator.txt, DS_graph_labels.txt; tu:DIR@DS for one of several)",
    argument="NAME|DIR",
)
register_data(
    "graphs",
    _file_spec,
    domain="graph",
    description="your graphs: a folder of .graphml/.gml/.edgelist files (class subfolders = labels), a TU "
    "folder, a saved PyG dataset (processed/data.pt), or a file written by save_graph_file",
    argument="FILE|DIR",
)
register_data(
    "smiles",
    _smiles_spec,
    domain="graph",
    description="molecules as SMILES, graphs by RDKit on demand: a .smi file, or a .csv/.tsv column "
    "(smiles:FILE.csv@column=smiles,label=target)",
    argument="FILE",
)
register_data(
    "sdf",
    _sdf_spec,
    domain="graph",
    description="molecules in an SDF file, graphs by RDKit on demand (sdf:FILE@label=PROP)",
    argument="FILE",
)
register_data(
    "karate",
    _networkx_spec("karate"),
    domain="graph",
    description="Zachary's karate club, 34 nodes, 2 club labels (networkx)",
)
register_data(
    "les_miserables",
    _networkx_spec("les_miserables"),
    domain="graph",
    description="Les Miserables co-appearances, 77 nodes (networkx)",
)
register_data(
    "davis_southern_women",
    _networkx_spec("davis_southern_women"),
    domain="graph",
    description="Davis southern women, bipartite 32 nodes (networkx)",
)
register_data(
    "florentine_families",
    _networkx_spec("florentine_families"),
    domain="graph",
    description="Florentine families marriages, 15 nodes (networkx)",
)
