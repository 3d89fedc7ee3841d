"""Text defaults: synonym swap + span crop views, a word-level encoder on strings, SimCLR, probe/kNN or Lee.

``pairs train --data text:polarity`` (or ``text:lee``, ``text:FILE``) uses these. The encoder's vocabulary is
built from the training texts (``encoder_kwargs``) and saved as a plain token list with the run, so
``pairs eval --checkpoint`` rebuilds the same encoder. Labelled data is evaluated by a linear probe and kNN
on the held-out split; the Lee corpus by the Spearman correlation between the encoder's cosine
similarities and the human similarity ratings of its 50 documents (``lee_spearman``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pairs.data.registry import DataBundle
from pairs.domains import Recipe, register_recipe
from pairs.domains.evaluation import probe_and_knn
from pairs.views.base import Compose

__all__ = ["evaluate_text", "lee_spearman", "preview_text", "text_recipe"]


def _mean_words(texts: list[str]) -> float:
    return sum(len(t.split()) for t in texts) / max(1, len(texts))


def _is_long(bundle: DataBundle) -> bool:
    return _mean_words(bundle.train) > 60


def lee_spearman(encoder: nn.Module, texts: list[str], human: torch.Tensor, device: Any = "cpu") -> float:
    """Spearman correlation of the encoder's cosine similarities with human similarity ratings.

    Args:
        encoder: maps a list of strings to ``(B, D)`` features.
        texts: the ``N`` rated documents.
        human: ``(N, N)`` human similarity matrix (only the upper triangle is used).
        device: where the encoder runs.

    Returns:
        Spearman's rho over the ``N (N - 1) / 2`` document pairs.

    Reference:
        Lee, Pincombe & Welsh 2005, "An empirical evaluation of models of text document similarity".
    """
    from scipy.stats import spearmanr

    from pairs.eval import extract_features

    feats = extract_features(encoder, texts, device=device)
    feats = torch.nn.functional.normalize(feats.double(), dim=1)
    sims = feats @ feats.T
    iu = torch.triu_indices(len(texts), len(texts), 1)
    rho = spearmanr(sims[iu[0], iu[1]].numpy(), human.double()[iu[0], iu[1]].numpy()).statistic
    return float(rho)


def evaluate_text(encoder: nn.Module, bundle: DataBundle, device: Any = "cpu") -> dict[str, Any]:
    """``lee_spearman`` for the Lee corpus; linear probe and kNN accuracy for labelled data; else ``{}``."""
    if "human_similarity" in bundle.info and bundle.test is not None:
        return {"lee_spearman": lee_spearman(encoder, bundle.test, bundle.info["human_similarity"], device)}
    return probe_and_knn(encoder, bundle, device)


def _encoder_kwargs(bundle: DataBundle) -> dict[str, Any]:
    from encoders.text import Vocabulary

    long = _is_long(bundle)
    vocab = Vocabulary.build(bundle.train, min_freq=2 if len(bundle.train) > 1000 or long else 1)
    return {"vocab": vocab.tokens, "max_len": 256 if long else 64}


def text_recipe(bundle: DataBundle) -> Recipe:
    """Defaults for text data; documents (Lee) get shorter crops than sentences."""
    from pairs.views import text as tv

    crop = (0.3, 0.7) if _is_long(bundle) else (0.6, 1.0)
    views: dict[str, Any] = {
        "synonym_crop": lambda b: tv.synonym_crop_view(p=0.2, crop=crop),
        "eda": lambda b: tv.eda_view(alpha=0.1),
        "synonym": lambda b: tv.SynonymSwap(p=0.2),
        "crop": lambda b: tv.SpanCrop(crop),
        "dropout_crop": lambda b: Compose([tv.SpanCrop(crop), tv.WordDropout(0.1)]),
    }
    small = len(bundle.train) < 1000
    return Recipe(
        views=views,
        encoder="text_bigru",
        encoder_kwargs=_encoder_kwargs,
        evaluate=evaluate_text,
        method="simclr",
        method_kwargs={"temperature": 0.1},
        epochs=30 if small else 20,
        batch_size=64,
        lr=2e-3,
        weight_decay=1e-4,
        optimizer="adamw",
        warmup_epochs=1.0,
        preview=preview_text,
    )


def preview_text(bundle: DataBundle, view: Any, n: int, n_views: int, path: str, seed: int) -> None:
    """Draw ``n`` samples and ``n_views`` views of each as text; words not in the original are in red."""
    import difflib
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pairs.pairing import make_views

    texts = [t[:400] for t in bundle.train[:n]]
    g = torch.Generator().manual_seed(seed)
    views = make_views(view, texts, n_views, g)
    rows: list[tuple[str, list[tuple[str, bool]]]] = []
    for i, text in enumerate(texts):
        rows.append(("original", [(w, False) for w in text.split()]))
        for k, batch in enumerate(views):
            old, new = text.split(), batch[i].split()
            marked: list[tuple[str, bool]] = []
            for op, _, _, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
                marked += [(w, op != "equal") for w in new[j1:j2]]
            rows.append((f"view {k + 1}", marked))
    width = 100
    lines: list[tuple[str, list[tuple[str, bool]]]] = []
    for label, words in rows:
        wrapped = textwrap.wrap(" ".join(w for w, _ in words), width) or [""]
        pos = 0
        for j, line in enumerate(wrapped):
            count = len(line.split())
            lines.append((label if j == 0 else "", words[pos : pos + count]))
            pos += count
    fig_h = 0.22 * (len(lines) + 2 * n) + 0.6
    fig, ax = plt.subplots(figsize=(11, fig_h))
    ax.axis("off")
    y, step = 1.0, 1.0 / (len(lines) + 2 * n + 1)
    renderer = fig.canvas.get_renderer()
    for label, words in lines:
        if label == "original":
            y -= step
        ax.text(0.0, y, label, fontsize=7, family="monospace", color="gray", transform=ax.transAxes, va="top")
        x = 0.09
        for w, changed in words:
            t = ax.text(
                x,
                y,
                w + " ",
                fontsize=7,
                family="monospace",
                color="red" if changed else "black",
                weight="bold" if changed else "normal",
                transform=ax.transAxes,
                va="top",
            )
            bbox = t.get_window_extent(renderer=renderer).transformed(ax.transAxes.inverted())
            x += bbox.width
        y -= step
    ax.set_title(f"{bundle.spec}: samples and their views (changed words in red)", fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


register_recipe("text", text_recipe)
