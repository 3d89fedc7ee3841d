"""The graph formats users hold: TU folders, graph-file folders, saved PyG datasets, SMILES/SDF molecules."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import networkx as nx
import pytest
import torch
from torch_geometric.data import Data, InMemoryDataset
from torch_geometric.datasets import TUDataset
from torch_geometric.utils import is_undirected

from pairs.data import graph_formats as F
from pairs.data import graphs as G
from pairs.data import load_data
from pairs.errors import DataError
from tests.helpers import assert_data_errors

# real molecules (name, SMILES, heavy atoms, bonds), with a made-up 2-class label: has a ring or not
MOLECULES = [
    ("ethanol", "CCO", 3, 2),
    ("benzene", "c1ccccc1", 6, 6),
    ("acetic acid", "CC(=O)O", 4, 3),
    ("aspirin", "CC(=O)Oc1ccccc1C(=O)O", 13, 13),
    ("caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", 14, 15),
    ("propane", "CCC", 3, 2),
    ("pyridine", "c1ccncc1", 6, 6),
    ("glycine", "NCC(=O)O", 5, 4),
    ("toluene", "Cc1ccccc1", 7, 7),
    ("isobutane", "CC(C)C", 4, 3),
    ("phenol", "Oc1ccccc1", 7, 7),
    ("acetone", "CC(C)=O", 4, 3),
]


def _ring(smiles: str) -> int:
    return int(any(ch.isdigit() for ch in smiles))


# --------------------------------------------------------------------------------------------------
# TU folders
# --------------------------------------------------------------------------------------------------
def _assert_same_graphs(ours, reference) -> None:
    assert len(ours) == len(reference)
    for i in range(len(reference)):
        a, b = reference[i], ours[i]
        assert set(a.keys()) == set(b.keys()), i
        for key in a.keys():
            if isinstance(a[key], torch.Tensor):
                assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), (i, key)
            else:
                assert a[key] == b[key], (i, key)


@pytest.mark.parametrize("name", ["MUTAG", "Cuneiform"])
@pytest.mark.parametrize("attributes", [False, True])
def test_tu_text_reader_equals_pyg_tudataset(tmp_path, name, attributes):
    source = G._grakel_data_dir() / name
    raw = tmp_path / name / "raw"
    shutil.copytree(source, raw)
    reference = TUDataset(str(tmp_path), name, use_node_attr=attributes, use_edge_attr=attributes)
    ours = F.read_tu_folder(source, use_node_attr=attributes, use_edge_attr=attributes)
    _assert_same_graphs(ours, reference)
    assert (ours.num_features, ours.num_classes) == (reference.num_features, reference.num_classes)
    assert ours.item_id(4) == f"{source.resolve() / name}#5"
    assert torch.equal(ours.labels, torch.cat([reference[i].y for i in range(len(reference))]))


class _Marker:
    """Unpickling this creates a file: stands for any code a crafted pickle would run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_tu_cache_honours_pairs_cache_and_never_unpickles(tmp_path, monkeypatch):
    cache, home = tmp_path / "cache", tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PAIRS_CACHE", str(cache))
    monkeypatch.setenv("HOME", str(home))
    marker = tmp_path / "code-ran"
    processed = cache / "tu" / "MUTAG" / "processed"
    processed.mkdir(parents=True)
    for name in ("data.pt", "pre_filter.pt", "pre_transform.pt"):
        torch.save(_Marker(str(marker)), processed / name)
    torch.load(processed / "pre_filter.pt", weights_only=False)  # the crafted file does run code ...
    assert marker.exists()
    marker.unlink()

    bundle = load_data("tu:MUTAG")  # ... but reading the set never unpickles it
    assert not marker.exists()
    assert len(bundle.train) + len(bundle.test) == 188 and bundle.n_classes == 2
    assert (cache / "tu" / "MUTAG" / "raw" / "MUTAG_A.txt").is_file()
    assert not (home / ".cache").exists()


def _write_tu(folder: Path, name: str = "TOY") -> None:
    """Three graphs: a triangle (class +1), a path of 2 (class -1) with a self-loop, a single node (+1)."""
    folder.mkdir(parents=True, exist_ok=True)
    edges = [(1, 2), (2, 1), (2, 3), (3, 2), (1, 3), (3, 1), (4, 5), (5, 4), (5, 5)]
    (folder / f"{name}_A.txt").write_text("".join(f"{a}, {b}\n" for a, b in edges))
    (folder / f"{name}_graph_indicator.txt").write_text("1\n1\n1\n2\n2\n3\n")
    (folder / f"{name}_graph_labels.txt").write_text("1\n-1\n1\n")
    (folder / f"{name}_node_labels.txt").write_text("0\n1\n2\n0\n0\n1\n")


def test_user_tu_folder_reads_as_pyg_would(tmp_path):
    folder = tmp_path / "toy"
    _write_tu(folder)
    bundle = load_data(f"tu:{folder}")
    assert bundle.spec == f"tu:{folder.resolve()}" and bundle.test is None  # 3 graphs: no split
    src = bundle.train
    assert len(src) == 3 and src.item_id(1).endswith("toy/TOY#2")
    assert src[0].edge_index.shape[1] == 6 and src[1].edge_index.tolist() == [[0, 1], [1, 0]]  # loop gone
    assert src[2].num_nodes == 1 and src[2].edge_index.shape == (2, 0)
    assert [int(g.y) for g in src] == [1, 0, 1]  # -1, 1 renumbered to 0, 1
    assert src[0].x.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    raw = tmp_path / "ref" / "TOY" / "raw"
    shutil.copytree(folder, raw)
    # PyG's reader loses a trailing graph without edges (its edge slices come from a bincount without
    # minlength); the graphs it does return are ours
    _assert_same_graphs(src.subset([0, 1]), TUDataset(str(tmp_path / "ref"), "TOY"))
    assert len(load_data(f"graphs:{folder}").train) == 3  # graphs:DIR recognises a TU folder too


def test_tu_folder_errors_name_the_format(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="DS_A.txt, DS_graph_indicator.txt"):
        F.read_tu_folder(tmp_path / "empty")
    folder = tmp_path / "bad"
    _write_tu(folder)
    (folder / "TOY_graph_indicator.txt").unlink()
    with pytest.raises(DataError, match="lacks TOY_graph_indicator.txt"):
        load_data(f"tu:{folder}")
    _write_tu(folder)
    (folder / "TOY_A.txt").write_text("1 2\n")
    with pytest.raises(DataError, match="comma-separated"):
        F.read_tu_folder(folder)
    with pytest.raises(DataError, match="does not exist"):
        load_data(f"tu:{tmp_path}/missing")


# --------------------------------------------------------------------------------------------------
# Folders of graph files
# --------------------------------------------------------------------------------------------------
def test_graph_file_folder_with_class_subfolders(tmp_path):
    root = tmp_path / "graphs"
    (root / "cycles").mkdir(parents=True)
    (root / "stars").mkdir()
    graphs = {}
    for n in range(4, 8):
        cycle, star = nx.cycle_graph(n), nx.star_graph(n - 1)
        for v in cycle.nodes:
            cycle.nodes[v]["weight"] = float(v)
            cycle.nodes[v]["kind"] = "atom"  # not numeric: ignored
        for v in star.nodes:
            star.nodes[v]["weight"] = 1.0
        nx.write_graphml(cycle, root / "cycles" / f"c{n}.graphml")
        nx.write_gml(star, root / "stars" / f"s{n}.gml")
        graphs[f"c{n}"], graphs[f"s{n}"] = cycle, star
    source = F.GraphFileFolder(root)
    assert source.class_names == ["cycles", "stars"] and source.labels.tolist() == [0] * 4 + [1] * 4
    assert source.has_node_features and source.num_features == 1
    for i in range(len(source)):
        path = Path(source.item_id(i))
        ref = graphs[path.stem]
        data = source[i]
        assert data.num_nodes == ref.number_of_nodes()
        assert data.edge_index.shape[1] == 2 * ref.number_of_edges() and is_undirected(data.edge_index)
        assert int(data.y) == int(source.labels[i])
    assert source[0].x[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]  # c4's "weight" attribute

    bundle = load_data(f"graphs:{root}")
    assert bundle.n_classes == 2 and len(bundle.train) + len(bundle.test) == 8
    assert bundle.info["lazy"] and bundle.train.item_id(0).startswith(str(root.resolve()))


def test_edge_list_folder_unlabelled_and_errors(tmp_path):
    root = tmp_path / "edges"
    root.mkdir()
    (root / "a.edgelist").write_text("# a path\n1 2\n2 3\n3 3\n")
    (root / "b.edges").write_text("x y\ny z\nz x\n")
    source = F.GraphFileFolder(root)
    assert source.labels is None and not source.has_node_features
    assert source[0].edge_index.shape[1] == 4 and source[1].edge_index.shape[1] == 6
    with pytest.raises(DataError, match=r"\.graphml, \.gml, \.edgelist"):
        F.GraphFileFolder(_empty(tmp_path))
    (root / "sub").mkdir()
    (root / "sub" / "c.edgelist").write_text("1 2\n")
    with pytest.raises(DataError, match="either directly in the folder"):
        F.GraphFileFolder(root)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "g.graphml").write_text("<graphml><not closed")
    with pytest.raises(DataError, match="cannot read it as GraphML"):
        F.GraphFileFolder(broken)


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty"
    path.mkdir()
    (path / "notes.txt").write_text("no graphs here")
    return path


# --------------------------------------------------------------------------------------------------
# Saved PyG datasets
# --------------------------------------------------------------------------------------------------
class _Saved(InMemoryDataset):
    def __init__(self, root: str, graphs: list[Data] | None = None) -> None:
        self._graphs = graphs
        super().__init__(root)
        self.load(self.processed_paths[0])

    @property
    def processed_file_names(self) -> list[str]:
        return ["data.pt"]

    def process(self) -> None:
        self.save(self._graphs, self.processed_paths[0])


def test_saved_pyg_dataset_loads_with_weights_only(tmp_path):
    gen = torch.Generator().manual_seed(0)
    graphs = [
        Data(x=torch.randn(n, 3, generator=gen), edge_index=torch.randint(0, n, (2, 2 * n), generator=gen),
             y=torch.tensor([n % 2]))
        for n in range(3, 11)
    ]  # fmt: skip
    _Saved(str(tmp_path / "ds"), graphs)
    for path in (tmp_path / "ds", tmp_path / "ds" / "processed" / "data.pt"):
        loaded = F.load_pyg_dataset(path)
        assert len(loaded) == 8
        for a, b in zip(graphs, loaded):
            assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index) and torch.equal(a.y, b.y)
    bundle = load_data(f"graphs:{tmp_path / 'ds'}")
    assert len(bundle.train) + len(bundle.test) == 8 and bundle.n_classes == 2


def test_pickled_pyg_dataset_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code-ran"
    bad = tmp_path / "bad" / "processed"
    bad.mkdir(parents=True)
    with open(bad / "data.pt", "wb") as f:
        pickle.dump(_Marker(str(marker)), f)
    torch.save(_Marker(str(marker)), tmp_path / "bad.pt")
    for path in (tmp_path / "bad", tmp_path / "bad.pt"):
        with pytest.raises(DataError, match="weights_only"):
            F.load_pyg_dataset(path)
        with pytest.raises(DataError):
            load_data(f"graphs:{path}")
    assert not marker.exists()


# --------------------------------------------------------------------------------------------------
# Molecules
# --------------------------------------------------------------------------------------------------
def _molecule_csv(path: Path, grow: int = 1) -> Path:
    """The molecules as a CSV; ``grow > 1`` adds copies with 1.. ``grow - 1`` methyl carbons prefixed."""
    lines = ["name,SMILES,target"]
    lines += [
        f'"{name} +{k}C",{"C" * k + smi},{_ring(smi)}' for k in range(grow) for name, smi, _, _ in MOLECULES
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_smiles_csv_becomes_graphs_on_demand(tmp_path, monkeypatch):
    path = _molecule_csv(tmp_path / "mols.csv")
    calls = []
    real = F.MoleculeSource.get
    monkeypatch.setattr(F.MoleculeSource, "get", lambda self, i: calls.append(i) or real(self, i))
    bundle = load_data(f"smiles:{path}@column=smiles,label=target")
    assert calls == []  # indexing parsed no molecule
    assert bundle.spec == f"smiles:{path.resolve()}@column=smiles,label=target"
    src = bundle.train.parent
    assert len(src) == 12 and src.labels.tolist() == [_ring(s) for _, s, _, _ in MOLECULES]
    for i, (_, smi, atoms, bonds) in enumerate(MOLECULES):
        g = src[i]
        assert src.smiles(i) == smi and src.item_id(i) == f"{path.resolve()}:{i}"
        assert g.num_nodes == atoms and g.edge_index.shape[1] == 2 * bonds and is_undirected(g.edge_index)
        assert g.x.shape == (atoms, 177) and g.x.dtype == torch.float32
        assert torch.equal(g.x.sum(1), torch.full((atoms,), 9.0))  # one hot per atom feature
        assert g.edge_attr.shape == (2 * bonds, 30) and int(g.y) == _ring(smi)
    assert src[0].x[:, 6].tolist() == [1.0, 1.0, 0.0] and src[0].x[2, 8] == 1.0  # C, C, O (atomic numbers)
    assert bundle.n_classes == 2 and len(bundle.train) + len(bundle.test) == 12


def test_smi_file_sdf_file_and_bad_molecules(tmp_path):
    from rdkit import Chem

    smi = tmp_path / "mols.smi"
    smi.write_text("".join(f"{s} {n.replace(' ', '_')}\n" for n, s, _, _ in MOLECULES) + "\nC1CC\n")
    source = F.MoleculeSource(smi)
    assert len(source) == 13 and source.labels is None
    assert source[1].num_nodes == 6 and source.item_id(12) == f"{smi.resolve()}:14"
    with pytest.raises(DataError, match=r"mols\.smi:14: RDKit cannot parse SMILES 'C1CC'"):
        source[12]

    sdf = tmp_path / "mols.sdf"
    writer = Chem.SDWriter(str(sdf))
    for name, s, _, _ in MOLECULES:
        mol = Chem.MolFromSmiles(s)
        mol.SetProp("_Name", name)
        mol.SetProp("ring", "yes" if _ring(s) else "no")
        writer.write(mol)
    writer.close()
    bundle = load_data(f"sdf:{sdf}@label=ring")
    src = bundle.train.parent
    assert src.class_names == ["no", "yes"] and src.labels.tolist() == [_ring(s) for _, s, _, _ in MOLECULES]
    for i in range(len(MOLECULES)):
        by_smiles = F.MoleculeSource(smi)[i]
        assert torch.equal(src[i].x, by_smiles.x) and torch.equal(src[i].edge_index, by_smiles.edge_index)
        assert src.item_id(i) == f"{sdf.resolve()}#{i}"


def test_molecule_spec_errors(tmp_path):
    path = _molecule_csv(tmp_path / "mols.csv")
    (tmp_path / "x.json").write_text("{}")
    assert_data_errors(
        {
            f"smiles:{path}@column=smile": "no column 'smile'; columns are name, SMILES, target",
            f"smiles:{path}@labels=target": "bad option 'labels=target'",
            f"smiles:{tmp_path / 'x.json'}": "expected SMILES as .smi/.txt",
            f"sdf:{path}": "sdf:FILE needs an .sdf file",
            f"smiles:{tmp_path / 'missing.csv'}": "does not exist",
            f"graphs:{path}": "molecules are read by smiles:",
        }
    )


def test_smiles_csv_trains_end_to_end(tmp_path, capsys, monkeypatch):
    from pairs.cli import main
    from tests.helpers import last_json

    torch.set_num_threads(1)
    path = _molecule_csv(tmp_path / "mols.csv", grow=4)  # 48 molecules
    args = ["train", "--data", f"smiles:{path}@label=target", "--epochs", "2", "--batch-size", "16",
            "--out", str(tmp_path / "run"), "--no-progress", "--json"]  # fmt: skip
    assert main(args) == 0
    report = last_json(capsys.readouterr().out)
    assert report["method"] == "graphcl" and report["steps"] == 2 * (38 // 16) and report["domain"] == "graph"
    assert report["data"] == f"smiles:{path.resolve()}@label=target"
    monkeypatch.chdir(tmp_path.parent)  # the run stores the absolute path: evaluation works from elsewhere
    assert main(["eval", "--checkpoint", str(tmp_path / "run"), "--json"]) == 0
    assert last_json(capsys.readouterr().out)["knn_acc"] == pytest.approx(report["knn_acc"])


def test_lazy_graph_evaluation_equals_in_memory_and_skips_unlabelled(tmp_path, monkeypatch):
    import dataclasses

    import encoders
    from pairs.domains.graph import GraphCollate, evaluate_graphs

    torch.manual_seed(0)
    encoder = encoders.get("gin", in_dim=177, hidden_dim=16, n_layers=2)
    lazy = load_data(f"smiles:{_molecule_csv(tmp_path / 'mols.csv', grow=4)}@label=target")
    listed = dataclasses.replace(lazy, train=list(lazy.train), test=list(lazy.test))
    collate = GraphCollate()
    assert evaluate_graphs(encoder, lazy, collate=collate) == evaluate_graphs(
        encoder, listed, collate=collate
    )

    unlabelled = load_data(f"smiles:{_molecule_csv(tmp_path / 'u.csv', grow=2)}")
    calls = []
    real = F.MoleculeSource.get
    monkeypatch.setattr(F.MoleculeSource, "get", lambda self, i: calls.append(i) or real(self, i))
    assert evaluate_graphs(encoder, unlabelled, collate=collate) == {} and calls == []
