"""``pairs train/eval/preview`` on graph data: GraphCL on TU sets, GRACE on karate, bad input."""

from __future__ import annotations

import pytest
import torch

from pairs.cli import main
from tests.helpers import assert_untrained_figures, error_line, last_json

pytestmark = pytest.mark.usefixtures("one_thread")


def test_mutag_defaults_run_graphcl_and_report_svm_acc(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--data", "tu:MUTAG", "--epochs", "1", "--out", str(out), "--no-progress", "--json"]
    assert main(args) == 0
    report = last_json(capsys.readouterr().out)
    assert (report["method"], report["encoder"], report["views"]) == ("graphcl", "gin", "graphcl")
    assert report["batch_size"] == 128
    assert report["lr"] == 0.01
    assert report["steps"] == 150 // 128
    assert 0.6 < report["svm_acc"] <= 1.0
    assert 0.0 < report["svm_acc_std"] < 0.3
    assert 0.6 < report["svm_acc_untrained"] <= 1.0
    assert_untrained_figures(report, ("svm_acc", "linear_probe_acc", "knn_acc"))
    assert main(["eval", "--checkpoint", str(out), "--json"]) == 0
    again = last_json(capsys.readouterr().out)
    for key in ("svm_acc", "linear_probe_acc", "knn_acc"):
        assert again[key] == pytest.approx(report[key]), key


def test_karate_runs_node_level_contrast(tmp_path, capsys):
    args = ["train", "--data", "karate", "--epochs", "3", "--out", str(tmp_path / "k"), "--no-progress"]
    assert main([*args, "--json"]) == 0
    report = last_json(capsys.readouterr().out)
    assert (report["method"], report["encoder"], report["views"]) == ("grace", "gcn", "grace")
    assert report["steps"] == 3
    assert report["batch_size"] == 1
    for key in ("node_acc", "linear_probe_acc", "knn_acc"):
        assert 0.5 <= report[key] <= 1.0, key  # two clubs, a graph that separates them well
    assert_untrained_figures(report, ("node_acc", "linear_probe_acc", "knn_acc"))


def test_graph_method_on_one_graph_exits_2(tmp_path, capsys):
    args = ["train", "--data", "karate", "--method", "graphcl", "--epochs", "1", "--out", str(tmp_path / "r")]
    assert main(args) == 2
    line = error_line(capsys)
    assert "graph-level encoder" in line or "at least 2 graphs" in line


def test_featureless_graph_file_trains(tmp_path, capsys):
    from torch_geometric.data import Data

    from pairs.data.graphs import save_graph_file

    def cycle(n):
        s = torch.arange(n)
        d = (s + 1) % n
        return torch.stack([torch.cat([s, d]), torch.cat([d, s])])

    def path(n):
        s = torch.arange(n - 1)
        return torch.stack([torch.cat([s, s + 1]), torch.cat([s + 1, s])])

    graphs = []
    for i in range(30):
        n = 5 + i % 4
        ei, y = (cycle(n), 0) if i % 2 == 0 else (path(n), 1)
        graphs.append(Data(edge_index=ei, num_nodes=n, y=torch.tensor([y])))
    file = tmp_path / "g.pt"
    save_graph_file(graphs, file)
    args = [
        "train",
        "--data",
        f"graphs:{file}",
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "f"),
        "--no-progress",
    ]
    assert main([*args, "--json"]) == 0
    report = last_json(capsys.readouterr().out)
    assert report["method"] == "graphcl"
    # cycles vs paths differ in their degrees (a path has two ends): separable for any working encoder
    # and SVM; labels lost or features collapsed would give about 0.5
    assert report["svm_acc"] == 1.0
    assert report["steps"] == 2  # 24 training graphs, one batch per epoch


@pytest.mark.parametrize("spec", ["tu:MUTAG", "karate"])
def test_preview_draws_graphs(tmp_path, spec):
    path = tmp_path / "g.png"
    assert main(["preview", "--data", spec, "--out", str(path), "--n", "2", "--n-views", "2"]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
