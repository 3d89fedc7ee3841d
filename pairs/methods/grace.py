"""GRACE: node-level contrast between two views of the same graph(s).

Two views of a graph (edges removed, feature columns masked) go through a node encoder (GCN); a
projection head ``Linear -> ELU -> Linear`` maps the node embeddings; each node of each view is contrasted
against its own node in the other view (the positive), against every other node of the other view
(inter-view negatives) and every other node of its own view (intra-view negatives). This is GRACE's
``Model.loss`` (``semi_loss`` both ways, averaged), which is exactly NT-Xent over the ``2 N`` projected
nodes (:func:`pairs.losses.nt_xent`), so the tiled log-sum-exp keeps memory low on large graphs.

Reference:
    Zhu, Xu, Yu, Liu, Wu, Wang. "Deep Graph Contrastive Representation Learning", ICML 2020 GRL+
    workshop (GRACE); reference code CRIPAC-DIG/GRACE (``model.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pairs.errors import ConfigError
from pairs.eval.graph_protocols import node_embeddings
from pairs.losses._checks import check_temperature
from pairs.losses.graph import grace_loss
from pairs.methods import register_method
from pairs.methods._checks import require_views
from pairs.methods.base import Method, MethodOutput
from pairs.pairing import ViewBatch

__all__ = ["GRACE", "grace_loss", "node_embeddings"]


class GRACE(Method):
    """GRACE: node encoder + ``Linear-ELU-Linear`` projection + intra- and inter-view node contrast.

    The two views must keep the nodes (and their order) of the graph: edge removal and feature masking
    (:class:`~pairs.views.graph.DropEdges`, :class:`~pairs.views.graph.MaskFeatures`), as in GRACE. A
    batch may hold one graph (node-level data: the loader yields the same graph every step) or several
    (every node of the batch is a negative).

    Args:
        encoder: maps a ``Data``/``Batch`` to ``(N, out_dim)`` node embeddings (``encoders.get("gcn",
            ...)``; an encoder with a ``node_embeddings`` method, such as ``gin``, works too).
        projection_hidden_dim: hidden size of the projection head (GRACE's ``num_proj_hidden``; default
            the encoder's ``out_dim``). The head maps back to the encoder's ``out_dim``, as GRACE's.
        temperature: ``tau`` (GRACE's Cora config: 0.4).

    Raises:
        ValueError: on a bad size or temperature; at forward time, for fewer than 2 views or views with
            different numbers of nodes.

    Shape:
        views: 2 graphs (batches) with ``N`` nodes -> loss scalar; ``embeddings``: ``(2 N, out_dim)``, the
        encoder's node embeddings of both views.

    Reference:
        Zhu et al. 2020, "Deep Graph Contrastive Representation Learning" (GRACE).
    """

    supports_model_views = False

    def __init__(
        self,
        encoder: nn.Module,
        projection_hidden_dim: int | None = None,
        temperature: float = 0.5,
    ) -> None:
        super().__init__(encoder)
        dim = self.feature_dim
        hidden = dim if projection_hidden_dim is None else int(projection_hidden_dim)
        if hidden < 1:
            raise ValueError(f"GRACE: projection_hidden_dim must be >= 1, got {projection_hidden_dim}")
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.temperature = float(check_temperature(temperature))

    def project(self, z: Tensor) -> Tensor:
        """GRACE's ``projection``: ``fc2(elu(fc1(z)))``.

        Shape:
            ``(N, out_dim)`` -> ``(N, out_dim)``.
        """
        return self.fc2(nn.functional.elu(self.fc1(z)))

    def forward(self, batch: ViewBatch) -> MethodOutput:
        views = require_views(batch, 2, "GRACE")[:2]
        z1, z2 = (node_embeddings(self.encoder, v) for v in views)
        if z1.shape[0] != z2.shape[0]:
            raise ConfigError(
                f"GRACE: the two views have {z1.shape[0]} and {z2.shape[0]} nodes; GRACE pairs node i of "
                "one view with node i of the other, so its views must keep every node (use DropEdges / "
                "MaskFeatures, not DropNodes or subgraphs)"
            )
        loss = grace_loss(self.project(z1), self.project(z2), self.temperature)
        return MethodOutput(loss, torch.cat([z1, z2]).detach())


register_method("grace", GRACE)
