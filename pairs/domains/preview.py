"""The drawing of ``pairs preview``, for every domain: samples and their views, one module for all.

Every domain's preview takes rows from several classes (with their names), draws views with the
parameters each drew (:func:`pairs.views.describe.describe`) under them, and draws on a
:class:`matplotlib.figure.Figure` with its own Agg canvas: no pyplot, and the user's matplotlib backend is
never switched. A domain's recipe names its preview (``Recipe.preview``):

* :func:`preview_images`: images and their views, crops boxed on the original;
* :func:`preview_series`: series and their views (TS2Vec's crops placed where they came from);
* :func:`preview_graphs`: graphs and their views in the source graph's layout (dropped nodes and edges in
  grey, removed edges dashed red, added edges green, masked nodes ringed);
* :func:`preview_text`: texts with changed words in red and left-out words marked;
* :func:`preview_audio`: waveform and log-spectrogram of each clip and its views.

The report figure (:mod:`pairs.results.report`) draws single raw items in their domain's form with the
recipe's ``Recipe.draw_item``: :func:`draw_image_item`, :func:`draw_series_item`, :func:`draw_audio_item`,
:func:`draw_graph_item`, :func:`draw_text_item`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from pairs.data.graph_collate import collate_for, has_node_features
from pairs.data.registry import DataBundle
from pairs.data.source import take
from pairs.views.base import Lambda
from pairs.views.describe import describe, example_params

__all__ = [
    "pick_rows",
    "class_name",
    "new_figure",
    "view_lines",
    "wrap",
    "draw_views",
    "VIEW_COLOURS",
    "preview_images",
    "preview_series",
    "preview_graphs",
    "view_node_origin",
    "preview_text",
    "preview_audio",
    "draw_image_item",
    "draw_series_item",
    "draw_audio_item",
    "draw_graph_item",
    "draw_text_item",
]

VIEW_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")
"""The colour of view ``k`` (``VIEW_COLOURS[k % 7]``) wherever a preview marks it on the original."""


# --------------------------------------------------------------------------------------------------
# One raw item on an axes (Recipe.draw_item: the report's nearest-neighbour rows)
# --------------------------------------------------------------------------------------------------
def draw_image_item(ax: Any, sample: Any, *, sample_rate: int = 16000, seed: int = 0) -> None:
    """Draw an image ``(C, H, W)`` with values in [0, 1] on ``ax`` (grey for one channel, else RGB)."""
    im = torch.as_tensor(sample).detach().float().cpu()
    if im.shape[0] == 1:
        ax.imshow(im[0].numpy(), cmap="gray", vmin=0.0, vmax=max(1.0, float(im.max())))
    else:
        ax.imshow(im[:3].permute(1, 2, 0).clamp(0, 1).numpy())


def draw_series_item(ax: Any, sample: Any, *, sample_rate: int = 16000, seed: int = 0) -> None:
    """Draw a series ``(C, T)`` on ``ax``: its first three channels as lines."""
    s = torch.as_tensor(sample).detach().float().cpu()
    for c in range(min(3, s.shape[0])):
        ax.plot(s[c].numpy(), lw=0.8)


def draw_audio_item(ax: Any, sample: Any, *, sample_rate: int = 16000, seed: int = 0) -> None:
    """Draw a clip ``(C, T)`` sampled at ``sample_rate`` Hz on ``ax`` as a spectrogram."""
    wave = torch.as_tensor(sample).detach().float().cpu().reshape(-1).numpy()
    nfft = 512 if sample_rate >= 16000 else 256
    ax.specgram(wave + 1e-9, NFFT=nfft, Fs=sample_rate, noverlap=nfft // 2, cmap="magma")


def draw_graph_item(ax: Any, sample: Any, *, sample_rate: int = 16000, seed: int = 0) -> None:
    """Draw a PyG graph on ``ax`` with networkx (spring layout seeded with ``seed``; nodes coloured by the
    largest of their features when they have several)."""
    import networkx as nx

    g = nx.Graph()
    n = int(sample.num_nodes or 0)
    g.add_nodes_from(range(n))
    g.add_edges_from((int(a), int(b)) for a, b in sample.edge_index.t().tolist() if a != b)
    colour = None
    if "x" in sample and sample.x is not None and sample.x.dim() == 2 and sample.x.shape[1] > 1:
        colour = sample.x.argmax(dim=1).numpy()
    pos = nx.spring_layout(g, seed=seed) if n else {}
    nx.draw_networkx(
        g, pos, ax=ax, with_labels=False, node_size=8, width=0.5, node_color=colour, cmap="tab10"
    )


def draw_text_item(ax: Any, sample: Any, *, sample_rate: int = 16000, seed: int = 0) -> None:
    """Write a text on ``ax`` (shortened to 140 characters, wrapped at 26)."""
    text = textwrap.shorten(str(sample), 140, placeholder=" ...")
    ax.text(
        0.02,
        0.98,
        textwrap.fill(text, 26),
        va="top",
        ha="left",
        fontsize=5.5,
        transform=ax.transAxes,
        wrap=True,
    )


def pick_rows(labels: Tensor | None, n: int, total: int) -> list[int]:
    """``n`` item positions that cover as many classes as possible: the first item of each class (in the
    order classes first appear), then the second of each, ...; the first ``n`` items when unlabelled.

    Args:
        labels: ``(total,)`` labels or ``None``.
        n: rows wanted (at most ``total`` are returned).
        total: number of items.
    """
    n = min(n, total)
    if labels is None:
        return list(range(n))
    labels = labels[:total].cpu()
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels.tolist()):
        by_class.setdefault(int(y), []).append(i)
    queues = list(by_class.values())
    rows: list[int] = []
    depth = 0
    while len(rows) < n:
        for q in queues:
            if depth < len(q) and len(rows) < n:
                rows.append(q[depth])
        depth += 1
    return rows


def class_name(bundle: DataBundle, label: int) -> str:
    """The name of class ``label`` (from the data's class names), else ``"class <label>"``."""
    names = (
        bundle.info.get("classes")
        or bundle.info.get("class_names")
        or getattr(bundle.train, "classes", None)
        or []
    )
    return str(names[label]) if 0 <= label < len(names) else f"class {label}"


def row_names(bundle: DataBundle, rows: list[int]) -> list[str | None]:
    """The class name of each row's item (``None`` for unlabelled data)."""
    if bundle.train_labels is None:
        return [None] * len(rows)
    return [class_name(bundle, int(bundle.train_labels[i])) for i in rows]


def new_figure(width: float, height: float) -> Any:
    """A :class:`matplotlib.figure.Figure` with constrained layout on its own Agg canvas (no pyplot, no
    backend switch: the figure is not registered anywhere and is freed with its last reference)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def view_lines(view: Any, params: Any, batch: Any, i: int, width: int = 40) -> str:
    """The steps view ``view`` applied to example ``i`` with their parameters, wrapped to ``width``."""
    return wrap(describe(view, params, batch, i), width)


def wrap(lines: list[str], width: int) -> str:
    return "\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in lines) or "(unchanged)"


def draw_views(view: Any, batch: Any, n_views: int, seed: int) -> tuple[list[Any], list[Any], list[Any]]:
    """``n_views`` views of ``batch`` with the parameters each drew: ``(outputs, views, params)``.

    View ``k`` is drawn from ``torch.Generator().manual_seed(seed + k)``; ``view`` is one view (used for
    every copy) or a list (asymmetric recipes: copy ``k`` uses ``view[k % len(view)]``).
    """
    choices = list(view) if isinstance(view, (list, tuple)) else [view]
    outs, used, params = [], [], []
    for k in range(n_views):
        v = choices[k % len(choices)]
        out, p = v(batch, torch.Generator().manual_seed(seed + k), return_params=True)
        outs.append(out)
        used.append(v)
        params.append(p)
    return outs, used, params


# --------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------
def preview_images(bundle: DataBundle, view: Any, n: int, n_views: int, path: str, seed: int) -> None:
    """Draw ``n`` samples (rows, from as many classes as there are) and ``n_views`` views of each.

    Under each view: the steps it applied and the parameters it drew (rotation, crop bounds, jitter
    factors, ...). Crops are also drawn as boxes on the original, in the colour of their view.
    """
    from matplotlib.patches import Rectangle

    rows = pick_rows(bundle.train_labels, n, len(bundle.train))
    x = take(bundle.train, rows)
    if getattr(view, "multi_view", False):  # multi-crop: one call gives every crop
        outs = list(view(x, torch.Generator().manual_seed(seed)))
        used: list[Any] = [None] * len(outs)
        params: list[Any] = [None] * len(outs)
    else:
        outs, used, params = draw_views(view, x, n_views, seed)
    cols = 1 + len(outs)
    fig = new_figure(1.9 * cols, 2.35 * len(rows) + 0.5)
    axes = fig.subplots(len(rows), cols, squeeze=False)
    names = row_names(bundle, rows)
    for row in range(len(rows)):
        for col, img in enumerate([x] + outs):
            ax = axes[row][col]
            im = img[row].detach().float().cpu()
            if im.shape[0] == 1:
                ax.imshow(im[0].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
            else:
                ax.imshow(im.permute(1, 2, 0).clamp(0, 1).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title("original" if col == 0 else f"view {col}", fontsize=8, color=_colour(col))
            if col and used[col - 1] is not None:
                ax.set_xlabel(view_lines(used[col - 1], params[col - 1], x, row, 34), fontsize=5, loc="left")
                for spine in ax.spines.values():
                    spine.set_edgecolor(_colour(col))
                for step in example_params(used[col - 1], params[col - 1], x, row):
                    if step.name == "RandomResizedCrop":  # the crop's box on the original
                        top, left, h, w = (float(v) for v in step.params["boxes"][step.index])
                        axes[row][0].add_patch(
                            Rectangle((left - 0.5, top - 0.5), w, h, fill=False, lw=1.0, ec=_colour(col))
                        )
        axes[row][0].set_ylabel(names[row] or "", fontsize=7)
    fig.suptitle(
        f"{bundle.spec}: samples (rows: one per class, name at the left) and their views; under each view "
        "the "
        "steps it applied with the parameters drawn; crops boxed on the original in their view's colour",
        fontsize=8,
        wrap=True,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")


def _colour(col: int) -> str:

    return "black" if col == 0 else VIEW_COLOURS[(col - 1) % len(VIEW_COLOURS)]


# --------------------------------------------------------------------------------------------------
# Series
# --------------------------------------------------------------------------------------------------
def preview_series(bundle: DataBundle, view: Any, n: int, n_views: int, path: str, seed: int) -> None:
    """Draw ``n`` series (rows, from as many classes as there are): the original, then ``n_views`` views of
    it (first channel; for TS2Vec's crops, both crops placed where they came from, with the overlap
    shaded), each with the steps it applied and the parameters it drew under it."""

    from pairs.views.temporal import CropPair

    rows = pick_rows(bundle.train_labels, n, len(bundle.train))
    x = take(bundle.train, rows)
    cols = 1 + n_views
    fig = new_figure(2.6 * cols, 1.9 * len(rows) + 0.5)
    axes = fig.subplots(len(rows), cols, squeeze=False)
    outs, used, params = draw_views(view, x, n_views, seed)
    names = row_names(bundle, rows)
    for row in range(len(rows)):
        axes[row][0].plot(x[row, 0].numpy(), lw=0.8, color="k")
        for col, out in enumerate(outs, start=1):
            ax = axes[row][col]
            if isinstance(out, CropPair):  # each crop where it came from, the overlap shaded
                a, b = _crop_starts(used[col - 1], params[col - 1], x, row, out)
                ax.plot(range(a, a + out.first.shape[-1]), out.first[row, 0].numpy(), lw=0.8, label="crop 1")
                ax.plot(
                    range(b, b + out.second.shape[-1]), out.second[row, 0].numpy(), lw=0.8, label="crop 2"
                )
                ax.axvspan(b, b + out.overlap, alpha=0.15, color="gray")
                ax.set_xlim(0, x.shape[-1])
            else:
                ax.plot(out[row, 0].numpy(), lw=0.8)
            ax.set_xlabel(view_lines(used[col - 1], params[col - 1], x, row, 46), fontsize=5, loc="left")
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row][0].set_ylabel(names[row] or "", fontsize=7)
    for col in range(cols):
        axes[0][col].set_title("original" if col == 0 else f"view {col}", fontsize=8)
    if any(isinstance(o, CropPair) for o in outs):
        axes[0][1].legend(fontsize=6, loc="upper right")
    fig.suptitle(
        f"{bundle.spec}: series (class at the left) and their views, each view's steps and parameters "
        "under it",
        fontsize=9,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")


def _crop_starts(view: Any, params: Any, x: Tensor, row: int, out: Any) -> tuple[int, int]:
    """Where TS2Vec's two crops of series ``row`` start in the series (from the parameters drawn)."""

    for step in example_params(view, params, x, row):
        if step.name == "OverlappingCrops":
            o = int(step.params["offset"][step.index])
            return o + int(step.params["crop_eleft"]), o + int(step.params["crop_left"])
    return 0, int(out.first_start) - int(out.second_start)


# --------------------------------------------------------------------------------------------------
# Graphs
# --------------------------------------------------------------------------------------------------
def _nx(data: Any) -> Any:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(int(data.num_nodes or 0)))
    g.add_edges_from((int(a), int(b)) for a, b in data.edge_index.cpu().t().tolist() if a != b)
    return g


def _node_colours(data: Any) -> Any:
    if has_node_features(data) and data.x.dim() == 2 and data.x.shape[1] > 1:
        return data.x.argmax(dim=1).cpu().numpy()
    return None


def view_node_origin(steps: Sequence[Any], n_nodes: int) -> tuple[Tensor, dict[str, list[Any]]]:
    """Where each node of a graph view comes from, and what the view changed, in the source graph's numbers.

    Args:
        steps: the steps applied to the example (:func:`pairs.views.describe.example_params`).
        n_nodes: nodes of the source graph.

    Returns:
        ``(origin, changes)``: ``origin[j]`` is the source node of the view's node ``j``; ``changes`` holds
        ``"dropped"`` (source nodes absent from the view), ``"removed"`` and ``"added"`` (edges as source
        node pairs) and ``"masked"`` (source nodes whose features were masked).
    """
    from pairs.views.describe import graph_edges

    origin = torch.arange(n_nodes)
    changes: dict[str, list[Any]] = {"dropped": [], "removed": [], "added": [], "masked": []}
    for step in steps:
        lo, hi = int(step.batch.ptr[step.index]), int(step.batch.ptr[step.index + 1])
        if "edge_removed" in step.params or "added_edges" in step.params:
            removed, added = graph_edges(step)
            changes["removed"] += [(int(origin[a]), int(origin[b])) for a, b in removed]
            changes["added"] += [(int(origin[a]), int(origin[b])) for a, b in added]
        mask = step.params.get("mask")
        if isinstance(mask, Tensor) and mask.dim() == 1:
            changes["masked"] += origin[mask[lo:hi].cpu()].tolist()
        keep = step.params.get("node_keep")
        if isinstance(keep, Tensor):
            origin = origin[keep[lo:hi].cpu()]
    kept = set(origin.tolist())
    changes["dropped"] = [i for i in range(n_nodes) if i not in kept]
    return origin, changes


def _draw(
    ax: Any, data: Any, pos: dict[int, Any], origin: Tensor | None, changes: dict[str, list[Any]], source: Any
) -> None:
    """One graph at the source graph's node positions. A view is drawn over its source graph in light grey
    (so dropped nodes and their edges stay visible), removed edges dashed red, added edges green, masked
    nodes ringed in black; every panel of a row has the same limits."""
    import networkx as nx

    g = _nx(data)
    if origin is not None:  # a view: its nodes sit where their source nodes sit
        g = nx.relabel_nodes(g, {j: int(origin[j]) for j in range(len(origin))})
        background = _nx(source)
        nx.draw_networkx_edges(background, pos, ax=ax, width=0.6, edge_color="#dddddd")
        nx.draw_networkx_nodes(background, pos, ax=ax, node_size=18, node_color="#dddddd")
    colours = _node_colours(data)
    nodes = list(g.nodes) if origin is None else [int(o) for o in origin]
    nx.draw_networkx_edges(g, pos, ax=ax, width=0.6)
    nx.draw_networkx_nodes(
        g, pos, nodelist=nodes, ax=ax, node_size=18, node_color=colours, cmap="tab10", vmin=0, vmax=9
    )
    if origin is not None:
        removed = [e for e in changes["removed"] if e[0] != e[1]]
        added = [e for e in changes["added"] if e[0] != e[1]]
        nx.draw_networkx_edges(g, pos, edgelist=removed, ax=ax, width=1.0, style="--", edge_color="red")
        nx.draw_networkx_edges(g, pos, edgelist=added, ax=ax, width=1.0, edge_color="limegreen")
        masked = [m for m in changes["masked"] if m in g]
        nx.draw_networkx_nodes(
            g,
            pos,
            nodelist=masked,
            ax=ax,
            node_size=40,
            node_color="none",
            edgecolors="black",
            linewidths=1.0,
        )
    if pos:
        xy = torch.tensor([list(v) for v in pos.values()], dtype=torch.float64)
        lo, hi = xy.min(0).values, xy.max(0).values
        pad = 0.08 * (hi - lo).clamp(min=1e-3)
        ax.set_xlim(float(lo[0] - pad[0]), float(hi[0] + pad[0]))
        ax.set_ylim(float(lo[1] - pad[1]), float(hi[1] + pad[1]))
    ax.set_axis_off()


def preview_graphs(bundle: DataBundle, view: Any, n: int, n_views: int, path: str, seed: int) -> None:
    """Draw ``n`` graphs (rows, from as many classes as there are): the original, then ``n_views`` views of
    it drawn in the original's layout (the same node positions), so what a view changed is visible: dropped
    nodes in light grey, removed edges dashed red, added edges green, masked nodes ringed; nodes coloured by
    their largest feature (e.g. the atom type). Under each view, the steps it applied and their parameters
    (which nodes were dropped, which edges changed). For a pair of views (``[original, aug]``) the augmented
    one is drawn; for GRACE's two views, they alternate."""
    import networkx as nx
    from matplotlib.lines import Line2D

    collate = collate_for(bundle)
    rows = pick_rows(bundle.train_labels, n, len(bundle.train))
    graphs = [bundle.train[i] for i in rows]
    batch = collate(graphs)
    choices = list(view) if isinstance(view, (list, tuple)) else [view]
    if len(choices) == 2 and isinstance(choices[0], Lambda):
        choices = choices[1:]
    outs, used, params = draw_views(choices, batch, n_views, seed)
    cols = 1 + n_views
    fig = new_figure(2.3 * cols, 2.7 * len(graphs) + 0.8)
    axes = fig.subplots(len(graphs), cols, squeeze=False)
    names = row_names(bundle, rows)
    for row in range(len(graphs)):
        source = batch.get_example(row)
        pos = nx.spring_layout(_nx(source), seed=seed)
        _draw(axes[row][0], source, pos, None, {}, source)
        axes[row][0].set_title(
            ("original" if row == 0 else "") + (f"\n{names[row]}" if names[row] else ""), fontsize=8
        )
        for col in range(1, cols):
            steps = example_params(used[col - 1], params[col - 1], batch, row)
            origin, changes = view_node_origin(steps, int(source.num_nodes))
            ax = axes[row][col]
            _draw(ax, outs[col - 1].get_example(row), pos, origin, changes, source)
            if row == 0:
                ax.set_title(f"view {col}", fontsize=8)
            text = wrap(describe(used[col - 1], params[col - 1], batch, row), 42)
            ax.text(0.0, -0.02, text, fontsize=5, transform=ax.transAxes, va="top", ha="left")
    handles = [
        Line2D([], [], marker="o", color="#dddddd", label="dropped node or edge (absent from the view)"),
        Line2D([], [], ls="--", color="red", label="removed edge"),
        Line2D([], [], color="limegreen", label="added edge"),
        Line2D([], [], marker="o", ls="", mfc="none", mec="black", label="masked node features"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=7, frameon=False)
    fig.suptitle(
        f"{bundle.spec}: graphs and their views, each view in its source graph's layout (nodes coloured by "
        "their largest feature)",
        fontsize=9,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")


# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------
def preview_text(bundle: DataBundle, view: Any, n: int, n_views: int, path: str, seed: int) -> None:
    """Draw ``n`` samples (from as many classes as there are) and ``n_views`` views of each as text: words
    not in the original in red, words of the original left out (crops, deletions) marked ``[-k]`` in grey,
    and under each view, in blue, the steps it applied with their parameters (which words were swapped,
    inserted or deleted, which span was kept)."""
    import difflib

    rows_at = pick_rows(bundle.train_labels, n, len(bundle.train))
    texts = [t[:400] for t in take(bundle.train, rows_at)]
    views, used, params = draw_views(view, texts, n_views, seed)
    names = row_names(bundle, rows_at)
    width = 100
    # (label, [(word, mark)]): mark False = unchanged (black), True = changed (red), None = left out (grey),
    # "param" = a line of the view's parameters (blue)
    lines: list[tuple[str, list[tuple[str, Any]]]] = []
    for i, text in enumerate(texts):
        head = "original" + (f" ({names[i]})" if names[i] else "")
        lines += _wrapped(head, [(w, False) for w in text.split()], width)
        for k, batch in enumerate(views):
            old, new = text.split(), batch[i].split()
            marked: list[tuple[str, Any]] = []
            for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
                if op in ("delete", "replace") and i2 > i1:  # words of the original left out of the view
                    marked.append((f"[-{i2 - i1}]", None))
                marked += [(w, op != "equal") for w in new[j1:j2]]
            lines += _wrapped(f"view {k + 1}", marked, width)
            for step in describe(used[k], params[k], texts, i):
                lines += [("", [(part, "param")]) for part in textwrap.wrap(step, width + 10)]
        lines.append(("", []))
    fig = new_figure(11, 0.2 * len(lines) + 0.8)
    ax = fig.add_subplot()
    ax.axis("off")
    renderer = fig.canvas.get_renderer()
    y, step_y = 1.0, 1.0 / (len(lines) + 1)
    colours = {False: "black", True: "red", None: "gray", "param": "tab:blue"}
    for label, words in lines:
        ax.text(0.0, y, label, fontsize=7, family="monospace", color="gray", transform=ax.transAxes, va="top")
        x = 0.11
        for w, mark in words:
            t = ax.text(
                x,
                y,
                w + " ",
                fontsize=7 if mark != "param" else 6,
                family="monospace",
                color=colours[mark],
                weight="bold" if mark is True else "normal",
                transform=ax.transAxes,
                va="top",
            )
            bbox = t.get_window_extent(renderer=renderer).transformed(ax.transAxes.inverted())
            x += bbox.width
        y -= step_y
    ax.set_title(
        f"{bundle.spec}: samples and their views (words changed or inserted in red; [-k] in grey: k words of "
        "the original left out, e.g. by a crop; in blue: each view's steps and the parameters drawn)",
        fontsize=9,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")


def _wrapped(label: str, words: list[tuple[str, Any]], width: int) -> list[tuple[str, list[tuple[str, Any]]]]:
    """``words`` cut into lines of at most ``width`` characters, ``label`` on the first."""
    out = []
    wrapped = textwrap.wrap(" ".join(w for w, _ in words), width) or [""]
    pos = 0
    for j, line in enumerate(wrapped):
        count = len(line.split())
        out.append((label if j == 0 else "", words[pos : pos + count]))
        pos += count
    return out


# --------------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------------
def preview_audio(bundle: DataBundle, view: Any, n: int, n_views: int, path: str, seed: int) -> None:
    """Draw ``n`` clips (row pairs, from as many classes as there are): waveform (top) and log-spectrogram
    (bottom) of the original and of each view, with the steps each view applied and the parameters it drew
    (semitones, shift, gain, filter cutoff, noise level) under it."""

    from pairs.data.audio import sample_rate_of

    sr = sample_rate_of(bundle)
    rows = pick_rows(bundle.train_labels, n, len(bundle.train))
    x = take(bundle.train, rows)
    views, used, params = draw_views(view, x, n_views, seed)
    cols = 1 + len(views)
    fig = new_figure(2.5 * cols, 3.1 * len(rows) + 0.4)
    axes = fig.subplots(2 * len(rows), cols, squeeze=False, height_ratios=[1, 1.6] * len(rows))
    window = torch.hann_window(512)
    names = row_names(bundle, rows)
    for row in range(len(rows)):
        for col, batch in enumerate([x] + views):
            wave = batch[row].detach().float().cpu().mean(0)
            t = torch.arange(wave.shape[-1]) / sr
            ax = axes[2 * row][col]
            ax.plot(t.numpy(), wave.numpy(), lw=0.4)
            ax.set_ylim(-1, 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title("original" if col == 0 else f"view {col}", fontsize=8)
            spec = torch.stft(wave, 512, 128, window=window, return_complex=True).abs()
            ax = axes[2 * row + 1][col]
            ax.imshow(
                (20 * torch.log10(spec + 1e-5)).numpy(),
                origin="lower",
                aspect="auto",
                cmap="magma",
                vmin=-80,
                vmax=20,
                extent=(0, wave.shape[-1] / sr, 0, sr / 2000),
            )
            ax.set_xticks([])
            ax.set_yticks([] if col else [0, sr / 4000])
            if col:
                ax.set_xlabel(view_lines(used[col - 1], params[col - 1], x, row, 44), fontsize=5, loc="left")
        axes[2 * row][0].set_ylabel(names[row] or "", fontsize=7)
        axes[2 * row + 1][0].set_ylabel("kHz", fontsize=6)
    fig.suptitle(
        f"{bundle.spec}: waveform (top) and log-spectrogram (bottom) of each clip and its views; class "
        "at the left, each view's steps and the parameters drawn under it",
        fontsize=9,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
