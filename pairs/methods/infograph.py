"""InfoGraph: graph-level representations by maximising the mutual information between a graph and its nodes.

No augmentation: one view of each graph. The encoder (GIN, layers concatenated) gives every node a patch
embedding and every graph a pooled embedding; two discriminator heads (``FF``: three ``Linear-ReLU``
layers plus a linear shortcut) map both into one space, and the Jensen-Shannon estimator scores the
(node, own graph) pairs against the (node, other graph of the batch) pairs:

``loss = E_neg - E_pos``, ``E_pos = mean over (node, own graph) of log 2 - softplus(-s)``,
``E_neg = mean over (node, other graph) of softplus(-s) + s - log 2``, ``s = <local(h_v), global(h_G)>``.

Reference:
    Sun, Hoffmann, Verma, Tang. "InfoGraph: Unsupervised and Semi-supervised Graph-Level Representation
    Learning via Mutual Information Maximization", ICLR 2020; reference code fanyun-sun/InfoGraph
    (``unsupervised/infograph.py``, ``losses.py``: ``local_global_loss_`` with ``measure="JSD"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pairs.errors import ConfigError
from pairs.methods import register_method
from pairs.methods._checks import require_views
from pairs.methods.base import Method, MethodOutput
from pairs.methods.graphcl import xavier_init_linear
from pairs.pairing import ViewBatch

__all__ = ["InfoGraph", "FF", "local_global_jsd_loss"]


class FF(nn.Module):
    """InfoGraph's discriminator head: ``block(x) + shortcut(x)``, block = 3 x (Linear, ReLU).

    Shape:
        ``(N, dim)`` -> ``(N, dim)``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU()
        )
        self.shortcut = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x) + self.shortcut(x)


def local_global_jsd_loss(nodes: Tensor, graphs: Tensor, node_graph: Tensor) -> Tensor:
    """The Jensen-Shannon local-global loss of InfoGraph (``E_neg - E_pos``).

    Args:
        nodes: ``(N, D)`` node (patch) embeddings after the local head.
        graphs: ``(G, D)`` graph embeddings after the global head, ``G >= 2``.
        node_graph: ``(N,)`` index of each node's graph.

    Returns:
        The scalar loss (float32 for half inputs).

    Raises:
        ConfigError: fewer than 2 graphs (no negative pairs), or shapes that do not agree.
    """
    if graphs.dim() != 2 or nodes.dim() != 2 or nodes.shape[1] != graphs.shape[1]:
        raise ConfigError(
            f"InfoGraph: node and graph embeddings must be (N, D) and (G, D), got {tuple(nodes.shape)} "
            f"and {tuple(graphs.shape)}"
        )
    n_nodes, n_graphs = nodes.shape[0], graphs.shape[0]
    if n_graphs < 2 or n_nodes == 0:
        raise ConfigError(
            f"InfoGraph needs at least 2 graphs with nodes per batch (other graphs are the negatives), "
            f"got {n_graphs} graphs and {n_nodes} nodes; use a larger batch"
        )
    if node_graph.shape != (n_nodes,):
        raise ConfigError(f"InfoGraph: node_graph must be ({n_nodes},), got {tuple(node_graph.shape)}")
    work = nodes.dtype if nodes.dtype == torch.float64 else torch.float32  # half inputs: in float32
    scores = nodes.to(work) @ graphs.to(work).t()  # (N, G)
    positive = F.one_hot(node_graph, n_graphs).to(scores.dtype)
    log2 = math.log(2.0)
    e_pos = ((log2 - F.softplus(-scores)) * positive).sum() / n_nodes
    e_neg = ((F.softplus(-scores) + scores - log2) * (1 - positive)).sum() / (n_nodes * (n_graphs - 1))
    return e_neg - e_pos


class InfoGraph(Method):
    """InfoGraph: local-global mutual information with a Jensen-Shannon estimator, no augmentation.

    Args:
        encoder: a graph encoder with ``graph_and_node_embeddings(batch) -> (graphs, nodes, node_graph)``
            (``encoders.get("gin", ...)``) and an int ``out_dim``.
        xavier_init: re-initialise every ``nn.Linear`` with Xavier-uniform weights and zero biases, as
            InfoGraph's ``init_emb``.

    Raises:
        ConfigError: an encoder without ``graph_and_node_embeddings``; at forward time, fewer than 2 graphs.

    Shape:
        views: 1 batch of ``G`` graphs -> loss scalar; ``embeddings``: ``(G, out_dim)`` (global head).

    Reference:
        Sun et al. 2020, "InfoGraph" (ICLR).
    """

    n_views = 1
    supports_model_views = False
    default_views = "identity"

    def __init__(self, encoder: nn.Module, xavier_init: bool = True) -> None:
        super().__init__(encoder)
        if not callable(getattr(encoder, "graph_and_node_embeddings", None)):
            raise ConfigError(
                f"InfoGraph contrasts node and graph embeddings of one pass, and {type(encoder).__name__} "
                "has no graph_and_node_embeddings(batch) method; use the 'gin' encoder"
            )
        dim = self.feature_dim
        self.local_head = FF(dim)
        self.global_head = FF(dim)
        if xavier_init:
            xavier_init_linear(self)

    def forward(self, batch: ViewBatch) -> MethodOutput:
        graphs = require_views(batch, 1, "InfoGraph")[0]
        embed = cast(Callable[[Any], tuple[Tensor, Tensor, Tensor]], self.encoder.graph_and_node_embeddings)
        g, nodes, node_graph = embed(graphs)  # the method was checked in __init__
        z_graph = self.global_head(g)
        loss = local_global_jsd_loss(self.local_head(nodes), z_graph, node_graph)
        return MethodOutput(loss, z_graph.detach())


register_method("infograph", InfoGraph)
