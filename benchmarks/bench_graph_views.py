"""Speed of batched graph views against per-graph augmentation loops.

Task: node dropping (p = 0.2) then edge perturbation (p = 0.2: remove and add as many edges) on 1,000
graphs, GraphCL-style, in three ways, in one process:

* ours: ``Compose([DropNodes(0.2), PerturbEdges(0.2)])`` on the whole PyG ``Batch`` (vectorised);
* (b) PyG per graph: ``dropout_node`` + ``dropout_edge(force_undirected=True)`` +
  ``add_random_edge(force_undirected=True)`` in a Python loop over the graphs;
* (a) networkx per graph: ``to_networkx``, remove random nodes, remove random edges and add random
  non-edges, ``from_networkx``.

Data: 1,000 MUTAG graphs (the 188 TU graphs shipped by grakel, cycled; node features, no edge attributes)
and 1,000 Erdos-Renyi graphs with 200 nodes and mean degree 4 (7 random features per node).

Timings are medians over repeats (after a warm-up). "views only" starts from a ``Batch`` (ours) or a list
of ``Data`` (loops) and ends at the same kind; "with collate" starts from a list of ``Data`` and ends at a
``Batch`` ready for an encoder (ours: collate then views; loops: views then collate).

Run: ``python benchmarks/bench_graph_views.py [--repeats 7] [--nx-repeats 3] [--threads N]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import networkx as nx
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import (
    add_random_edge,
    dropout_edge,
    dropout_node,
    erdos_renyi_graph,
    from_networkx,
    to_networkx,
)

from pairs.views.base import Compose
from pairs.views.graph import DropNodes, PerturbEdges

P = 0.2


def mutag_graphs(n: int) -> list[Data] | None:
    from pairs.data.graphs import available_tu, load_tu

    if "MUTAG" not in available_tu():
        return None
    dataset = load_tu("MUTAG")
    base = [Data(x=d.x, edge_index=d.edge_index, y=d.y) for d in dataset]
    return [base[i % len(base)] for i in range(n)]


def random_graphs(n: int, nodes: int = 200, degree: float = 4.0, seed: int = 0) -> list[Data]:
    torch.manual_seed(seed)
    out = []
    for i in range(n):
        ei = erdos_renyi_graph(nodes, degree / (nodes - 1))
        out.append(Data(x=torch.randn(nodes, 7), edge_index=ei, y=torch.tensor([i % 2])))
    return out


PYG_FAILURES = [0]


def pyg_per_graph(graphs: list[Data]) -> list[Data]:
    out = []
    for d in graphs:
        ei, _, keep = dropout_node(d.edge_index, p=P, num_nodes=d.num_nodes, relabel_nodes=True)
        x = d.x[keep]
        ei, _ = dropout_edge(ei, p=P, force_undirected=True)
        if round(ei.shape[1] * P) > 0:
            try:
                ei, _ = add_random_edge(ei, p=P, force_undirected=True, num_nodes=x.shape[0])
            except RuntimeError:  # PyG's negative_sampling returns a float index when it finds nothing
                PYG_FAILURES[0] += 1
        out.append(Data(x=x, edge_index=ei, y=d.y))
    return out


def networkx_per_graph(graphs: list[Data], rng: random.Random) -> list[Data]:
    out = []
    for d in graphs:
        g = to_networkx(d, node_attrs=["x"], to_undirected=True)
        g.remove_nodes_from(rng.sample(list(g.nodes), int(g.number_of_nodes() * P)))
        g = nx.convert_node_labels_to_integers(g)
        edges = list(g.edges())
        k = int(len(edges) * P)
        g.remove_edges_from(rng.sample(edges, k))
        n = g.number_of_nodes()
        added, tries = 0, 0
        while added < k and tries < 100 * k + 100:
            tries += 1
            u, v = rng.randrange(n), rng.randrange(n)
            if u != v and not g.has_edge(u, v):
                g.add_edge(u, v)
                added += 1
        data = from_networkx(g, group_node_attrs=["x"])
        data.y = d.y
        out.append(data)
    return out


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def run(name: str, graphs: list[Data], repeats: int, nx_repeats: int) -> None:
    batch = Batch.from_data_list(graphs)
    view = Compose([DropNodes(P), PerturbEdges(P)])
    gen = torch.Generator().manual_seed(0)
    rng = random.Random(0)
    out = view(batch, gen)
    print(
        f"\n{name}: {batch.num_graphs} graphs, {batch.num_nodes} nodes, {batch.num_edges} edge entries "
        f"-> ours keeps {out.num_nodes} nodes, {out.num_edges} entries"
    )
    ours = median_ms(lambda: view(batch, gen), repeats)
    collate = median_ms(lambda: Batch.from_data_list(graphs), repeats)
    pyg = median_ms(lambda: pyg_per_graph(graphs), repeats)
    nxt = median_ms(lambda: networkx_per_graph(graphs, rng), nx_repeats)
    if PYG_FAILURES[0]:
        print(
            f"  note: PyG's add_random_edge raised on {PYG_FAILURES[0]} graph calls (skipped, as no addition)"
        )
        PYG_FAILURES[0] = 0
    print(f"  ours, whole Batch (DropNodes -> PerturbEdges)      {ours:9.1f} ms")
    print(f"  (b) PyG per-graph dropout_node/edge + add_random    {pyg:9.1f} ms   ratio {pyg / ours:6.1f}x")
    print(f"  (a) networkx per-graph                              {nxt:9.1f} ms   ratio {nxt / ours:6.1f}x")
    print(f"  collate (Batch.from_data_list)                      {collate:9.1f} ms")
    e2e = ours + collate
    print(
        f"  with collate: ours {e2e:.1f} ms; (b) {pyg + collate:.1f} ms ratio {(pyg + collate) / e2e:.1f}x; "
        f"(a) {nxt + collate:.1f} ms ratio {(nxt + collate) / e2e:.1f}x"
    )
    print(
        f"  targets: >= 5x vs (b): {'met' if pyg / ours >= 5 else 'NOT met'}; "
        f">= 20x vs (a): {'met' if nxt / ours >= 20 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--nx-repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {args.repeats} repeats")
    mutag = mutag_graphs(args.graphs)
    if mutag is None:
        print("\nMUTAG: skipped (pip install grakel: it ships the TU files)")
    else:
        run("MUTAG (cycled)", mutag, args.repeats, args.nx_repeats)
    run("Erdos-Renyi 200 nodes, mean degree 4", random_graphs(args.graphs), args.repeats, args.nx_repeats)


if __name__ == "__main__":
    main()
