"""pairs.validation: one behaviour for every argument check, and the CLI's log handler."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from pairs.errors import ConfigError, PairsError, SettingError
from pairs.validation import HALF_DTYPES, finite_float, flag, integer, positive_int, probability
from pairs.views.base import check_replay_size


def test_positive_int_accepts_ints_and_returns_python_ints():
    assert positive_int("k", 3) == 3
    value = positive_int("k", np.int64(7))
    assert value == 7
    assert type(value) is int


@pytest.mark.parametrize("bad", [True, "3", 2.0, None])
def test_a_value_of_the_wrong_type_is_a_setting_error_caught_as_type_and_value_error(bad):
    with pytest.raises(SettingError, match=r"GIN: n_layers must be a positive integer, got") as info:
        positive_int("n_layers", bad, owner="GIN")
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, PairsError)


@pytest.mark.parametrize("bad", [0, -4])
def test_an_int_out_of_range_is_a_config_error_not_a_type_error(bad):
    with pytest.raises(ConfigError, match=rf"width must be a positive integer, got {bad}") as info:
        positive_int("width", bad)
    assert not isinstance(info.value, TypeError)


def test_integer_with_a_minimum_names_it():
    assert integer("knots", 0, minimum=0) == 0
    with pytest.raises(ConfigError, match=r"CPC: patches must be an integer >= 2, got 1"):
        integer("patches", 1, minimum=2, owner="CPC")


def test_probability_bounds_closed_and_half_open():
    assert probability("p", 0) == 0.0
    assert probability("p", 1) == 1.0
    assert probability("p", np.float32(0.25)) == 0.25
    with pytest.raises(ConfigError, match=r"DropNodes: p must be in \[0, 1\], got 1.5"):
        probability("p", 1.5, owner="DropNodes")
    with pytest.raises(ConfigError, match=r"p must be in \[0, 1\), got 1.0"):
        probability("p", 1.0, high_open=True)
    with pytest.raises(ConfigError):
        probability("p", float("nan"))
    with pytest.raises(SettingError, match=r"\[0, 1\]"):
        probability("p", "0.5")


def test_finite_float_bounds():
    assert finite_float("eps", 1e-3, minimum=0, strict=True) == 1e-3
    assert finite_float("sigma", 0, minimum=0) == 0.0
    assert finite_float("mean", -2.5) == -2.5
    with pytest.raises(ConfigError, match=r"eps must be a positive number \(finite and > 0\), got 0"):
        finite_float("eps", 0, minimum=0, strict=True)
    with pytest.raises(ConfigError, match=r"sigma must be a finite number >= 0, got -1"):
        finite_float("sigma", -1, minimum=0)
    with pytest.raises(ConfigError, match="inf"):
        finite_float("mean", float("inf"))
    with pytest.raises(SettingError):
        finite_float("mean", None)


def test_flag_refuses_truthy_values():
    assert flag("gather_distributed", False) is False
    with pytest.raises(SettingError, match="must be True or False, got 1"):
        flag("gather_distributed", 1)


def test_half_dtypes_and_replay_size():
    assert HALF_DTYPES == (torch.float16, torch.bfloat16)
    check_replay_size("Jitter", 4, 4)
    with pytest.raises(ValueError, match="Jitter: parameters were drawn for 4 examples but the batch has 2"):
        check_replay_size("Jitter", 4, 2)


def test_the_cli_shows_the_pairs_logger_info_on_stdout_and_warnings_on_stderr(monkeypatch, capsys):
    import pairs.cli as cli
    import pairs.experiment as experiment

    def fake_train(*args, **kwargs):
        log = logging.getLogger("pairs")
        log.debug("not shown")
        log.info("training fake")
        log.warning("knn_acc is below")
        return {"data": "digits"}

    monkeypatch.setattr(experiment, "train", fake_train)
    before = list(logging.getLogger("pairs").handlers)
    assert cli.main(["train", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["training fake"]
    assert err.splitlines() == ["warning: knn_acc is below"]
    assert logging.getLogger("pairs").handlers == before  # the handler is removed after the command


def test_graph_and_node_embeddings_refuse_an_encoder_of_the_other_level():
    from types import SimpleNamespace

    from pairs.eval.graph_protocols import node_embeddings
    from pairs.methods.graphcl import graph_embeddings
    from pairs.validation import one_row_each

    rows = torch.zeros(5, 3)
    batch = SimpleNamespace(num_graphs=2, num_nodes=5)
    assert graph_embeddings(lambda b: rows[:2], batch).shape == (2, 3)
    assert node_embeddings(lambda g: rows, batch).shape == (5, 3)
    with pytest.raises(ConfigError) as graph_err:
        graph_embeddings(lambda b: rows, batch)
    assert str(graph_err.value) == (
        "GraphCL contrasts graph embeddings, but the encoder returned 5 rows for 2 graphs "
        "(node embeddings?); use a graph-level encoder such as 'gin', or a node-level method such as 'grace'"
    )
    with pytest.raises(ConfigError) as node_err:
        node_embeddings(lambda g: rows[:2], batch, owner="node evaluation")
    assert str(node_err.value) == (
        "node evaluation contrasts node embeddings, but the encoder returned 2 rows for a graph of 5 nodes; "
        "use a node-level encoder such as 'gcn'"
    )
    with pytest.raises(
        ConfigError, match=r"^GRACE: the encoder must return \(num_nodes, D\) node embeddings, got \(5,\)$"
    ):
        node_embeddings(lambda g: rows[:, 0], batch)
    with pytest.raises(
        ConfigError, match=r"^GraphCL: the encoder must return \(num_graphs, D\) graph embeddings, got dict$"
    ):
        graph_embeddings(lambda b: {}, batch)
    # no count to compare with: any 2-D output passes
    assert one_row_each(rows, None, owner="X", kind="node", counted="{n}", fix="") is rows
