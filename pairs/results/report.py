"""One figure of a run that a person reads at a glance: what ``pairs report`` and ``pairs train --report``
draw.

* training curves from ``metrics.jsonl`` (loss, learning rate, embedding std, effective rank, and
  alignment/uniformity when they were logged);
* the run's evaluation figures next to the untrained encoder's and the hand-crafted baseline's, as bars;
* a 2-D map of the held-out embeddings coloured by label (UMAP from ``umap-learn`` when it is installed,
  else t-SNE from scikit-learn);
* the nearest training items of a few held-out queries, drawn in the domain's own form (images; waveforms
  as spectrograms; series as lines; graphs drawn with networkx; text as text).

Everything is drawn on a :class:`matplotlib.figure.Figure` (the user's backend is never switched).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pairs.errors import ConfigError, OutputError

__all__ = ["report", "read_metrics", "draw_item", "run_figures"]

log = logging.getLogger("pairs")

CURVES = (
    ("loss", "loss"),
    ("lr", "learning rate"),
    ("embedding_std", "embedding std"),
    ("effective_rank", "effective rank"),
    ("alignment", "alignment"),
    ("uniformity", "uniformity"),
)
MAX_MAP_POINTS = 1500


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl`` (damaged lines are skipped)."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def run_figures(run: Any, encoder: Any, device: Any = "cpu") -> dict[str, float]:
    """The run's figures: ``report.json`` written by ``pairs train`` when it exists, else evaluated now
    (the trained encoder, the untrained one rebuilt from the run's seed, and the domain's baseline)."""
    saved = run.run_dir / "report.json"
    if saved.exists():
        try:
            figures = json.loads(saved.read_text())
            return {k: float(v) for k, v in figures.items() if _is_figure(k) and isinstance(v, (int, float))}
        except (json.JSONDecodeError, OSError):
            pass
    from pairs.domains import recipe_for
    from pairs.results.loading import _build

    bundle = run.bundle()
    recipe = recipe_for(bundle)
    figures = dict(recipe.evaluate(encoder, bundle, device))
    untrained = _build(run).encoder
    figures.update({f"{k}_untrained": v for k, v in recipe.evaluate(untrained, bundle, device).items()})
    if recipe.baseline is not None:
        figures.update(recipe.baseline(bundle))
    return {k: float(v) for k, v in figures.items() if _is_figure(k) and isinstance(v, (int, float))}


def _is_figure(key: str) -> bool:
    from pairs.experiment import FIGURE_SUFFIXES

    return key.removesuffix("_untrained").endswith(FIGURE_SUFFIXES)


def _curves(fig: Any, spec: Any, rows: list[dict[str, Any]]) -> None:
    steps = [r for r in rows if r.get("event") == "step"]
    present = [(k, t) for k, t in CURVES if any(k in r for r in steps)]
    if not present:
        ax = fig.add_subplot(spec)
        ax.text(0.5, 0.5, "no training curves (metrics.jsonl is empty)", ha="center", va="center")
        ax.set_axis_off()
        return
    sub = spec.subgridspec(1, len(present), wspace=0.35)
    for i, (key, title) in enumerate(present):
        ax = fig.add_subplot(sub[0, i])
        xs = [r["step"] for r in steps if key in r]
        ys = [r[key] for r in steps if key in r]
        ax.plot(xs, ys, lw=1.2, color="C0", marker="o" if len(xs) < 20 else None, ms=3)
        if key == "loss":
            epochs = [r for r in rows if r.get("event") == "epoch" and "loss" in r]
            if epochs:
                ax.plot(
                    [r["step"] for r in epochs],
                    [r["loss"] for r in epochs],
                    "o-",
                    ms=3,
                    lw=1,
                    color="C1",
                    label="epoch mean",
                )
                ax.legend(fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)


def _bars(ax: Any, figures: dict[str, float]) -> None:
    names = sorted(k for k in figures if not k.endswith("_untrained") and not k.startswith("mfcc"))
    baselines = {k: v for k, v in figures.items() if k.startswith("mfcc")}
    if not names and not baselines:
        ax.text(0.5, 0.5, "no evaluation figures\n(unlabelled data)", ha="center", va="center", fontsize=9)
        ax.set_axis_off()
        return
    x = np.arange(len(names))
    width = 0.38
    trained = [figures[k] for k in names]
    untrained = [figures.get(f"{k}_untrained", np.nan) for k in names]
    ax.bar(x - width / 2, trained, width, label="trained", color="C0")
    ax.bar(x + width / 2, untrained, width, label="untrained encoder", color="C7")
    for xi, v in zip(x, trained):
        ax.text(xi - width / 2, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    for xi, v in zip(x, untrained):
        if np.isfinite(v):
            ax.text(xi + width / 2, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    labels = list(names)
    for j, (k, v) in enumerate(sorted(baselines.items())):
        pos = len(names) + j
        ax.bar(pos, v, width, color="C2", label="hand-crafted baseline" if j == 0 else None)
        ax.text(pos, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
        labels.append(k)
    ax.set_xticks(np.arange(len(labels)))
    ax.set_xticklabels([n.replace("_", " ") for n in labels], fontsize=7, rotation=20, ha="right")
    top = max([v for v in [*trained, *untrained, *baselines.values()] if np.isfinite(v)] + [1.0])
    ax.set_ylim(0, top * 1.3)
    ax.legend(fontsize=7, loc="upper center", ncol=3)
    ax.set_title("figures: trained vs untrained vs baseline", fontsize=9)
    ax.tick_params(labelsize=7)


def _map_2d(x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    try:
        import umap

        return umap.UMAP(n_components=2, random_state=seed).fit_transform(x), "UMAP"
    except ImportError:
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
        return TSNE(2, init="pca", random_state=seed, perplexity=perplexity).fit_transform(x), "t-SNE"


def _scatter(ax: Any, feats: torch.Tensor, labels: torch.Tensor | None, classes: list[str] | None) -> None:
    if len(feats) < 5:
        ax.text(0.5, 0.5, "too few items for a map", ha="center", va="center")
        ax.set_axis_off()
        return
    xy, how = _map_2d(feats.numpy())
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=5, color="C0")
    else:
        values = labels.numpy()
        uniq = np.unique(values)
        cmap = _colours(len(uniq))
        for j, u in enumerate(uniq):
            m = values == u
            name = classes[int(u)] if classes and 0 <= int(u) < len(classes) else str(int(u))
            ax.scatter(xy[m, 0], xy[m, 1], s=5, color=cmap[j], label=name)
        if len(uniq) <= 20:
            ax.legend(fontsize=6, markerscale=2, loc="best", ncol=2 if len(uniq) > 10 else 1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"held-out embeddings ({how}), coloured by label", fontsize=9)


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def draw_item(
    ax: Any, sample: Any, draw: Callable[..., None] | None, *, sample_rate: int = 16000, seed: int = 0
) -> None:
    """Draw one raw item in its domain's form on ``ax`` with ``draw``, the domain recipe's ``draw_item`` (an
    image, a spectrogram, a line, a graph, text: :mod:`pairs.domains.preview`); ``None`` leaves it blank."""
    if draw is not None:
        draw(ax, sample, sample_rate=sample_rate, seed=seed)
    ax.set_xticks([])
    ax.set_yticks([])


def _queries_from_classes(labels: torch.Tensor | None, n: int) -> list[int]:
    """Up to ``n`` held-out positions, one per class first (so the rows show several classes)."""
    if labels is None:
        return list(range(min(n, 10**9)))[:n]
    picked: list[int] = []
    seen: set[int] = set()
    for i, y in enumerate(labels.tolist()):
        if y not in seen:
            picked.append(i)
            seen.add(y)
        if len(picked) == n:
            return picked
    rest = [i for i in range(len(labels)) if i not in picked]
    return (picked + rest)[:n]


def _neighbours(fig: Any, spec: Any, encoder: Any, bundle: Any, n_queries: int, k: int) -> None:
    from pairs.data.source import take
    from pairs.domains import recipe_for
    from pairs.results.embedding import encode_items
    from pairs.results.items import Items
    from pairs.results.similarity import exact_topk

    held = bundle.test if bundle.test is not None else bundle.train
    held_labels = bundle.test_labels if bundle.test is not None else bundle.train_labels
    q_pos = _queries_from_classes(held_labels, n_queries)
    pick = take(held, q_pos)
    gallery = Items(bundle.spec, bundle.domain, [("train", bundle.train, None)], bundle.train_labels)
    g = torch.nn.functional.normalize(encode_items(encoder, gallery), dim=1)
    queries = Items(bundle.spec, bundle.domain, [("test", held, torch.tensor(q_pos))])
    q = torch.nn.functional.normalize(encode_items(encoder, queries), dim=1)
    same = bundle.test is None  # queries come from the gallery itself: skip the item itself
    scores, rows = exact_topk(q, g, k + int(same))
    sub = spec.subgridspec(len(q_pos), k + 1, wspace=0.08, hspace=0.25)
    classes = bundle.info.get("classes")
    sr = int(bundle.info.get("sample_rate", 16000))
    draw = recipe_for(bundle).draw_item

    def name(y: Any) -> str:
        if y is None:
            return ""
        y = int(y)
        return str(classes[y]) if classes and 0 <= y < len(classes) else str(y)

    for r, pos in enumerate(q_pos):
        ax = fig.add_subplot(sub[r, 0])
        draw_item(ax, pick[r], draw, sample_rate=sr)
        ax.set_title(
            f"query ({name(None if held_labels is None else held_labels[pos])})", fontsize=7, color="C3"
        )
        for ax_side in ax.spines.values():
            ax_side.set_edgecolor("C3")
            ax_side.set_linewidth(1.5)
        cols = [(s, i) for s, i in zip(scores[r].tolist(), rows[r].tolist()) if not (same and i == pos)][:k]
        for c, (s, i) in enumerate(cols, start=1):
            ax = fig.add_subplot(sub[r, c])
            draw_item(ax, bundle.train[i], draw, sample_rate=sr)
            label = "" if bundle.train_labels is None else f"{name(bundle.train_labels[i])}, "
            ax.set_title(f"{label}cos {s:.3f}", fontsize=6.5)


def report(
    run: str | os.PathLike,
    out: str | os.PathLike,
    *,
    n_queries: int = 4,
    k: int = 6,
    device: str = "cpu",
    dpi: int = 110,
) -> dict[str, Any]:
    """Draw a run's report figure into a PNG.

    Args:
        run: run directory or its ``checkpoint.pt``.
        out: the ``.png`` to write.
        n_queries: held-out queries whose nearest training items are drawn (rows).
        k: neighbours per query.
        device: where the encoder runs.
        dpi: resolution.

    Returns:
        ``{"out", "figures", "map"}``.

    Raises:
        CheckpointError: no run there. ConfigError: ``out`` is not a ``.png``. OutputError: its folder
        does not exist or cannot be written.
    """
    from matplotlib.figure import Figure

    from pairs.results.embedding import encode_items
    from pairs.results.items import Items
    from pairs.results.loading import load_encoder, run_info
    from pairs.train import resolve_device

    out_path = Path(out).expanduser()
    if out_path.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {out}")
    if not out_path.parent.exists():
        raise OutputError(f"folder {out_path.parent} does not exist; create it first")
    dev = resolve_device(device)
    encoder = load_encoder(run, dev)
    info = run_info(encoder)
    bundle = info.bundle()
    figures = run_figures(info, encoder, dev)
    rows = read_metrics(info.run_dir)

    fig = Figure(figsize=(13, 13.5))
    grid = fig.add_gridspec(3, 2, height_ratios=[1, 1.5, 1.9], hspace=0.35, wspace=0.2, top=0.94)
    _curves(fig, grid[0, :], rows)
    _bars(fig.add_subplot(grid[1, 0]), figures)
    held = bundle.test if bundle.test is not None else bundle.train
    held_labels = bundle.test_labels if bundle.test is not None else bundle.train_labels
    n_map = min(len(held), MAX_MAP_POINTS)
    feats = encode_items(encoder, Items(bundle.spec, bundle.domain, [("test", held, torch.arange(n_map))]))
    _scatter(
        fig.add_subplot(grid[1, 1]),
        feats,
        None if held_labels is None else held_labels[:n_map],
        bundle.info.get("classes"),
    )
    if len(bundle.train) > k:
        _neighbours(fig, grid[2, :], encoder, bundle, n_queries, k)
    extra = info.extra
    fig.suptitle(
        f"{info.run_dir.name}: {extra['method']} with {extra['encoder']} on {extra['data']} "
        f"({info.epoch} epoch{'' if info.epoch == 1 else 's'}); "
        "bottom: held-out queries (red) and their nearest training items",
        fontsize=11,
    )
    try:
        fig.savefig(out_path, dpi=dpi, bbox_inches="tight")
    except OSError as err:
        raise OutputError(f"cannot write {out_path}: {err}") from err
    log.debug("wrote report %s", out_path)
    return {"out": str(out_path), "figures": figures}
