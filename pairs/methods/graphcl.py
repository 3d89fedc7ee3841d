"""GraphCL: graph-level contrast between two views of every graph of a batch.

A GIN encoder (or any encoder mapping a PyG ``Batch`` to one row per graph) embeds both views, a
projection head maps the graph embeddings, and the loss contrasts each graph's two projections against
the other graphs of the batch.

Two losses:

* ``loss="graphcl"`` (default): the loss of GraphCL's paper (eq. 3) and of its unsupervised TU code
  (``gsimclr.py``, ``loss_cal``): for graph ``n``, ``-log exp(s(z_n, z'_n)/t) / sum_{n' != n}
  exp(s(z_n, z'_{n'})/t)`` with cosine similarity ``s``: the anchors are the first view's graphs, the
  candidates the *other* graphs of the second view only (no intra-view negatives, and the positive is
  left out of the denominator);
* ``loss="nt_xent"``: SimCLR's symmetric NT-Xent over both views (:func:`pairs.losses.nt_xent`).

Reference:
    You, Chen, Sui, Chen, Wang, Shen. "Graph Contrastive Learning with Augmentations", NeurIPS 2020;
    reference code Shen-Lab/GraphCL (``unsupervised_TU/gsimclr.py``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from pairs.errors import ConfigError
from pairs.losses import nt_xent
from pairs.losses._checks import check_temperature
from pairs.losses.graph import graphcl_loss
from pairs.methods import register_method
from pairs.methods._checks import require_views
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch
from pairs.validation import one_row_each

__all__ = ["GraphCL", "graphcl_loss", "graph_embeddings", "xavier_init_linear"]

LOSSES = ("graphcl", "nt_xent")


def graph_embeddings(encoder: nn.Module, batch: Any, owner: str = "GraphCL") -> Tensor:
    """Run ``encoder`` on a batch of graphs and check it returned one row per graph.

    Raises:
        ValueError: if the encoder returns another number of rows (e.g. a node-level encoder such as
            ``gcn``), naming the fix.

    Shape:
        a batch of ``G`` graphs -> ``(G, D)``.
    """
    n_graphs = getattr(batch, "num_graphs", None)
    return one_row_each(
        encoder(batch),
        n_graphs,
        owner=owner,
        kind="graph",
        counted="{n} graphs (node embeddings?)",
        fix="use a graph-level encoder such as 'gin', or a node-level method such as 'grace'",
    )


def xavier_init_linear(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every ``nn.Linear`` in ``module`` (GraphCL's
    ``init_emb``)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class GraphCL(Method):
    """GraphCL: graph embeddings of two views -> projection head -> GraphCL loss (or NT-Xent).

    Args:
        encoder: maps a PyG ``Batch`` of ``G`` graphs to ``(G, out_dim)`` (``encoders.get("gin", ...)``);
            it needs an int ``out_dim``.
        projection_dim: output size of the projection head (default: the encoder's ``out_dim``, as
            GraphCL's ``proj_head``).
        hidden_dim: hidden size of the projection head (default: the encoder's ``out_dim``).
        temperature: loss temperature (GraphCL: 0.2).
        loss: ``"graphcl"`` (the paper's loss, default) or ``"nt_xent"`` (symmetric SimCLR loss).
        xavier_init: re-initialise every ``nn.Linear`` of the encoder and the head with Xavier-uniform
            weights and zero biases, as GraphCL's ``init_emb`` does for its whole model.
        gather_distributed: with ``loss="nt_xent"``, use the graphs of all ranks as negatives.

    Raises:
        ValueError: for an unknown ``loss`` or a bad size; at forward time, for fewer than 2 views,
            views with different numbers of graphs, or an encoder that does not return one row per graph.

    Shape:
        views: 2 batches of ``G`` graphs -> loss scalar; ``embeddings``: ``(2 G, projection_dim)``.

    Reference:
        You et al. 2020, "Graph Contrastive Learning with Augmentations" (NeurIPS).
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int | None = None,
        hidden_dim: int | None = None,
        temperature: float = 0.2,
        loss: str = "graphcl",
        xavier_init: bool = True,
        gather_distributed: bool = True,
    ) -> None:
        super().__init__(encoder)
        if loss not in LOSSES:
            raise ValueError(f"GraphCL: loss must be one of {LOSSES}, got {loss!r}")
        dim = self.feature_dim
        hidden = dim if hidden_dim is None else int(hidden_dim)
        out = dim if projection_dim is None else int(projection_dim)
        if hidden < 1 or out < 1:
            raise ValueError(f"GraphCL: hidden_dim and projection_dim must be >= 1, got {hidden}, {out}")
        self.projection = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out))
        self.temperature = float(check_temperature(temperature))
        self.loss_name = loss
        self.gather_distributed = bool(gather_distributed)
        if xavier_init:
            xavier_init_linear(self)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, 2, "GraphCL")[:2]
        features = self.encode(views, plain=lambda vs: [graph_embeddings(self.encoder, v) for v in vs])
        if features[0].shape[0] != features[1].shape[0]:
            raise ConfigError(
                f"GraphCL: the two views hold {features[0].shape[0]} and {features[1].shape[0]} graphs; "
                "graph views must keep every graph of the batch"
            )
        z1, z2 = (self.projection(f) for f in features)
        if self.loss_name == "graphcl":
            loss = graphcl_loss(z1, z2, self.temperature)
        else:
            loss = nt_xent(z1, z2, temperature=self.temperature, gather_distributed=self.gather_distributed)
        return MethodOutput(loss, torch.cat([z1, z2]).detach())


register_method("graphcl", GraphCL)
