"""Graph encoders: GIN for graph-level embeddings (GraphCL) and GCN for node-level embeddings (GRACE).

* :class:`GIN` ("gin"): the unsupervised encoder of InfoGraph (Sun et al. 2020) used by GraphCL (You
  et al. 2020): ``n_layers`` GIN convolutions (each ``Linear-ReLU-Linear``, then ReLU and BatchNorm);
  the graph embedding is the concatenation over layers of the pooled (sum or mean) node features.
* :class:`GCN` ("gcn"): GRACE's encoder (Zhu et al. 2020): ``n_layers`` GCN convolutions, each followed
  by the activation (PReLU by default), returning node embeddings.

Both take a PyG ``Batch``/``Data`` or plain tensors, and need node features ``x``. Graphs without
features (e.g. some TU or networkx graphs) get them from :func:`ensure_features`: a constant ``1`` per
node, or a one-hot of the node degree (as PyG's ``OneHotDegree`` and GraphCL's featureless TU sets).
Edge attributes are not used (GraphCL's and GRACE's encoders ignore them too).

Example:
    >>> import encoders
    >>> net = encoders.get("gin", in_dim=7)  # MUTAG's 7 atom types
    >>> net.out_dim
    96
"""

from __future__ import annotations

import copy
import numbers

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GCNConv, GINConv, global_add_pool, global_mean_pool

from encoders.registry import register
from pairs.validation import positive_int

__all__ = ["GIN", "GCN", "ensure_features"]


def ensure_features(data: Data, kind: str = "degree", max_degree: int | None = None) -> Data:
    """Give featureless graphs node features (returns ``data`` itself when it already has ``x``).

    Args:
        data: a ``Data`` or ``Batch``.
        kind: ``"constant"`` (``x = 1``, shape ``(N, 1)``) or ``"degree"`` (one-hot of each node's number
            of outgoing edge entries = its degree in an undirected graph, shape ``(N, max_degree + 1)``;
            degrees above ``max_degree`` fall in the last column).
        max_degree: width of the degree one-hot minus one; ``None`` uses this data's largest degree. Pass
            the dataset-wide value so that every graph gets the same feature size.

    Returns:
        A shallow copy of ``data`` with float32 ``x`` (or ``data`` unchanged when it has ``x``).

    Raises:
        ValueError: for an unknown ``kind``, a negative ``max_degree`` or a graph whose node count is unknown.

    Shape:
        ``x``: ``(N, 1)`` or ``(N, max_degree + 1)``.
    """
    if kind not in ("constant", "degree"):
        raise ValueError(f"ensure_features: kind must be 'constant' or 'degree', got {kind!r}")
    if "x" in data and data.x is not None:
        return data
    n = data.num_nodes
    if n is None:
        raise ValueError("ensure_features: the graph has neither x nor num_nodes; set data.num_nodes")
    edge_index = data.edge_index if "edge_index" in data else None
    device = edge_index.device if edge_index is not None else torch.device("cpu")
    out = copy.copy(data)
    if kind == "constant":
        return _set_x(out, torch.ones(n, 1, device=device))
    deg = torch.zeros(n, dtype=torch.long, device=device)
    if edge_index is not None and edge_index.numel():
        deg = torch.bincount(edge_index[0], minlength=n)
    if max_degree is None:
        max_degree = int(deg.max()) if n else 0
    if isinstance(max_degree, bool) or not isinstance(max_degree, numbers.Integral) or max_degree < 0:
        raise ValueError(f"ensure_features: max_degree must be an int >= 0, got {max_degree!r}")
    return _set_x(out, torch.nn.functional.one_hot(deg.clamp_max(max_degree), int(max_degree) + 1).float())


def _set_x(data: Data, x: Tensor) -> Data:
    data.x = x
    if isinstance(data, Batch) and hasattr(data, "_slice_dict"):  # so that to_data_list() carries x
        data._slice_dict = {**data._slice_dict, "x": data.ptr.cpu()}
        data._inc_dict = {**data._inc_dict, "x": torch.zeros(data.num_graphs, dtype=torch.long)}
    return data


def _unpack(
    data: Data | Tensor, edge_index: Tensor | None, batch: Tensor | None, owner: str
) -> tuple[Tensor, Tensor, Tensor, int]:
    """``(x, edge_index, batch, num_graphs)`` from a ``Data``/``Batch`` or from tensors."""
    if isinstance(data, Data):
        x = data.x if "x" in data else None
        if x is None:
            raise ValueError(
                f"{owner} needs node features x; give featureless graphs features first with "
                "encoders.graph.ensure_features(data, kind='degree' or 'constant')"
            )
        edge_index = data.edge_index if "edge_index" in data else x.new_zeros(2, 0, dtype=torch.long)
        if isinstance(data, Batch):
            batch, num_graphs = data.batch, int(data.num_graphs)
        else:
            batch, num_graphs = x.new_zeros(x.shape[0], dtype=torch.long), 1
    elif isinstance(data, Tensor):
        x = data
        if edge_index is None:
            raise ValueError(f"{owner}(x, edge_index, batch): edge_index is required with a feature tensor")
        if batch is None:
            batch, num_graphs = x.new_zeros(x.shape[0], dtype=torch.long), 1
        else:
            num_graphs = int(batch.max()) + 1 if batch.numel() else 0
    else:
        raise TypeError(f"{owner} expects a PyG Data/Batch or a feature tensor x, got {type(data).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{owner} expects node features of shape (N, F), got {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    return x, edge_index, batch, num_graphs


@register("gin", domain="graph", description="GIN graph encoder of GraphCL/InfoGraph (pooled layers, concat)")
class GIN(nn.Module):
    """GIN encoder for graph-level embeddings, as in GraphCL's / InfoGraph's unsupervised TU experiments.

    Each layer is ``GINConv(MLP(Linear, ReLU, Linear))``, then ReLU, then BatchNorm1d over nodes. The
    graph embedding pools every layer's node features with ``pooling`` and concatenates the layers
    (``out="concat"``, GraphCL's readout) or keeps the last layer's (``out="last"``).

    Args:
        in_dim: node feature size.
        hidden_dim: width of every layer (GraphCL: 32).
        n_layers: number of GIN layers (GraphCL: 3).
        pooling: ``"sum"`` (GraphCL, GIN's injective readout) or ``"mean"``.
        out: ``"concat"`` (``out_dim = hidden_dim * n_layers``) or ``"last"`` (``out_dim = hidden_dim``).
        batch_norm: BatchNorm1d after each layer (needs at least 2 nodes per batch in training mode).

    Attributes:
        out_dim: size of the graph embedding.

    Raises:
        ValueError: on bad sizes or option names; on input without ``x``.

    Shape:
        ``forward``: a batch of ``G`` graphs with ``N`` nodes -> ``(G, out_dim)``;
        ``node_embeddings``: -> ``(N, out_dim)``.

    Reference:
        Xu et al. 2019, "How Powerful are Graph Neural Networks?"; Sun et al. 2020, "InfoGraph"; You et al.
        2020, "Graph Contrastive Learning with Augmentations".
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int = 32,
        n_layers: int = 3,
        pooling: str = "sum",
        out: str = "concat",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.in_dim = positive_int("in_dim", in_dim, owner="GIN")
        self.hidden_dim = positive_int("hidden_dim", hidden_dim, owner="GIN")
        self.n_layers = positive_int("n_layers", n_layers, owner="GIN")
        if pooling not in ("sum", "mean"):
            raise ValueError(f"GIN: pooling must be 'sum' or 'mean', got {pooling!r}")
        if out not in ("concat", "last"):
            raise ValueError(f"GIN: out must be 'concat' or 'last', got {out!r}")
        self.pooling, self.out, self.batch_norm = pooling, out, bool(batch_norm)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i in range(self.n_layers):
            width_in = self.in_dim if i == 0 else self.hidden_dim
            mlp = nn.Sequential(
                nn.Linear(width_in, self.hidden_dim), nn.ReLU(), nn.Linear(self.hidden_dim, self.hidden_dim)
            )
            self.convs.append(GINConv(mlp))
            self.norms.append(nn.BatchNorm1d(self.hidden_dim) if self.batch_norm else nn.Identity())
        self.out_dim = self.hidden_dim * (self.n_layers if out == "concat" else 1)

    def _layers(self, x: Tensor, edge_index: Tensor) -> list[Tensor]:
        if x.shape[1] != self.in_dim:
            raise ValueError(
                f"GIN expects node features of size {self.in_dim}, got x of shape {tuple(x.shape)}"
            )
        if self.batch_norm and self.training and x.shape[0] < 2:
            raise ValueError(
                f"GIN uses BatchNorm over nodes, which needs at least 2 nodes in training mode, got "
                f"{x.shape[0]}; call .eval() or build it with batch_norm=False"
            )
        layers = []
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = norm(torch.relu(conv(x, edge_index)))
            layers.append(x)
        return layers

    def node_embeddings(self, data: Data | Tensor, edge_index: Tensor | None = None) -> Tensor:
        """Node embeddings: every layer's output concatenated (``out="concat"``) or the last one.

        Shape:
            ``(N, out_dim)``.
        """
        x, edge_index, _, _ = _unpack(data, edge_index, None, "GIN")
        layers = self._layers(x, edge_index)
        return torch.cat(layers, dim=1) if self.out == "concat" else layers[-1]

    def forward(
        self, data: Data | Tensor, edge_index: Tensor | None = None, batch: Tensor | None = None
    ) -> Tensor:
        """Graph embeddings of a PyG ``Batch``/``Data``, or of ``(x, edge_index, batch)`` tensors.

        Shape:
            ``(num_graphs, out_dim)``; an empty graph gets zeros (sum) or zeros (mean of nothing).
        """
        return self.graph_and_node_embeddings(data, edge_index, batch)[0]

    def graph_and_node_embeddings(
        self, data: Data | Tensor, edge_index: Tensor | None = None, batch: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Graph and node embeddings from one pass (InfoGraph contrasts the two), and each node's graph.

        Shape:
            ``(num_graphs, out_dim)``, ``(N, out_dim)`` and ``(N,)`` graph indices.
        """
        x, edge_index, batch, num_graphs = _unpack(data, edge_index, batch, "GIN")
        layers = self._layers(x, edge_index)
        pool = global_add_pool if self.pooling == "sum" else global_mean_pool
        if self.out == "last":
            layers = layers[-1:]
        graphs = torch.cat([pool(h, batch, size=num_graphs) for h in layers], dim=1)
        return graphs, torch.cat(layers, dim=1), batch


_ACTIVATIONS = {
    "prelu": lambda width: nn.PReLU(),
    "relu": lambda width: nn.ReLU(),
    "elu": lambda width: nn.ELU(),
}


@register("gcn", domain="graph", description="GCN node encoder of GRACE (node-level embeddings)")
class GCN(nn.Module):
    """GCN encoder for node-level embeddings, as in GRACE.

    ``n_layers`` ``GCNConv`` layers ``in_dim -> hidden_dim -> ... -> out_dim``, each followed by the
    activation (GRACE applies it after the last layer too).

    Args:
        in_dim: node feature size.
        hidden_dim: width of the hidden layers (GRACE uses ``2 * out_dim``).
        out_dim: embedding size.
        n_layers: number of GCN layers (GRACE: 2).
        activation: ``"prelu"`` (GRACE's default), ``"relu"`` or ``"elu"``.

    Attributes:
        out_dim: the embedding size.

    Raises:
        ValueError: on bad sizes or activation names; on input without ``x``.

    Shape:
        a graph (or batch) with ``N`` nodes -> ``(N, out_dim)``.

    Reference:
        Kipf & Welling 2017 (GCN); Zhu et al. 2020, "Deep Graph Contrastive Representation Learning" (GRACE).
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int = 128,
        out_dim: int = 128,
        n_layers: int = 2,
        activation: str = "prelu",
    ) -> None:
        super().__init__()
        self.in_dim = positive_int("in_dim", in_dim, owner="GCN")
        self.hidden_dim = positive_int("hidden_dim", hidden_dim, owner="GCN")
        self.out_dim = positive_int("out_dim", out_dim, owner="GCN")
        self.n_layers = positive_int("n_layers", n_layers, owner="GCN")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"GCN: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        widths = [self.in_dim] + [self.hidden_dim] * (self.n_layers - 1) + [self.out_dim]
        self.convs = nn.ModuleList(GCNConv(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.acts = nn.ModuleList(_ACTIVATIONS[activation](b) for b in widths[1:])

    def forward(self, data: Data | Tensor, edge_index: Tensor | None = None) -> Tensor:
        """Node embeddings of a ``Data``/``Batch`` or of ``(x, edge_index)``.

        Shape:
            ``(N, out_dim)``.
        """
        x, edge_index, _, _ = _unpack(data, edge_index, None, "GCN")
        if x.shape[1] != self.in_dim:
            raise ValueError(
                f"GCN expects node features of size {self.in_dim}, got x of shape {tuple(x.shape)}"
            )
        for conv, act in zip(self.convs, self.acts, strict=True):
            x = act(conv(x, edge_index))
        return x
