"""Text defaults: a bag-of-words encoder trained by SimCLR on crops; Lee Spearman and probes for figures.

``pairs train --data text:wiki`` (unlabelled Wikipedia and news passages), ``text:polarity``, ``text:lee`` or
``text:FILE`` uses these. The encoder (``text_bow``, the mean of word embeddings: on a few thousand texts and
CPU it learns more, and much faster, than the BiGRU or the Transformer, which ``--encoder`` still selects)
gets a vocabulary built from the training texts (``encoder_kwargs``), saved as a plain token list with the
run, so ``pairs eval --checkpoint`` rebuilds the same encoder. Figures (:func:`evaluate_text`): the
Spearman correlation between the encoder's cosine similarities and the human similarity ratings of the Lee
corpus's 50 documents (``lee_spearman``), and for labelled data a linear probe and kNN on the held-out split
plus a probe by repeated stratified cross-validation over all labelled texts (``linear_probe_cv_acc``),
which is far less noisy on the 200 polarity sentences.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pairs.data.registry import DataBundle
from pairs.data.source import evaluation_subset, take
from pairs.domains import Recipe, register_recipe
from pairs.domains.evaluation import probe_and_knn
from pairs.errors import DataError
from pairs.views.base import Compose

EPOCHS_SMALL = 30
"""Default epochs for fewer than 1,000 training texts."""
EPOCHS_LARGE = 10
"""Default epochs for 1,000 training texts or more."""
CV_REPEATS = 5
"""Repeats of the 5-fold cross-validated probe in :func:`evaluate_text`."""

__all__ = ["evaluate_text", "lee_spearman", "preview_text", "probe_cv", "text_recipe"]


def _mean_words(texts: list[str]) -> float:
    return sum(len(t.split()) for t in texts) / max(1, len(texts))


VOCAB_TEXTS = 50_000
"""Texts of a streamed file the vocabulary is built from (a seeded random sample; all of a smaller file)."""
CV_TEXTS = 2_000
"""Most texts of a streamed file in the cross-validated probe (a seeded random sample per split)."""


def _texts(data: Any, limit: int) -> list[str]:
    """All texts of ``data`` (a list, or a source of at most ``limit`` texts), else a seeded sample."""
    return list(evaluation_subset(data, limit))


def _is_long(bundle: DataBundle) -> bool:
    return _mean_words(_texts(bundle.train, 2_000)) > 40


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


def probe_cv(
    encoder: nn.Module,
    texts: list[str],
    labels: torch.Tensor,
    device: Any = "cpu",
    folds: int = 5,
    repeats: int = 10,
    seed: int = 0,
) -> dict[str, float]:
    """Linear-probe accuracy by repeated stratified cross-validation over all labelled texts.

    A small held-out split makes a probe noisy (on 50 sentences one sentence is 2 points); averaging over
    ``repeats`` shuffles of ``folds`` folds uses every labelled text for testing once per repeat. In each fold
    the probe (and its ``C``, by an inner cross-validation) is fit on the other folds only. The encoder is
    frozen and never sees the labels.

    Args:
        encoder: maps a list of strings to ``(B, D)`` features.
        texts: the ``N`` labelled texts.
        labels: ``(N,)`` int64 labels.
        device: where the encoder runs.
        folds: folds per repeat (at most the smallest class count).
        repeats: shuffled repeats.
        seed: seed of the fold shuffles (the same seed gives the same folds for every encoder).

    Returns:
        ``{"acc": mean accuracy over the folds, "sd": its standard deviation over the folds, "sem": the
        standard error of the mean of the per-repeat accuracies}``.

    Raises:
        ValueError: when ``texts`` and ``labels`` differ in length or a class has fewer than 2 texts.
    """
    import numpy as np
    from sklearn.model_selection import RepeatedStratifiedKFold

    from pairs.eval import extract_features, linear_probe

    if len(texts) != len(labels):
        raise ValueError(
            f"probe_cv: {len(texts)} texts but {len(labels)} labels; expected one label per text"
        )
    y = labels.cpu().numpy()
    smallest = int(np.bincount(y)[np.bincount(y) > 0].min())
    if smallest < 2:
        raise DataError("probe_cv: every class needs at least 2 labelled texts for cross-validation")
    folds = min(folds, smallest)
    feats = extract_features(encoder, texts, device=device)  # eval mode, no grad, mode restored; on CPU
    labels = labels.cpu()
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    accs = [
        linear_probe(feats[tr], labels[tr], feats[te], labels[te], seed=seed)["acc"]
        for tr, te in splitter.split(np.zeros(len(y)), y)
    ]
    fold_acc = np.asarray(accs, dtype=np.float64)
    per_repeat = fold_acc.reshape(repeats, folds).mean(1)
    return {
        "acc": float(fold_acc.mean()),
        "sd": float(fold_acc.std(ddof=1)) if len(fold_acc) > 1 else 0.0,
        "sem": float(per_repeat.std(ddof=1) / np.sqrt(repeats)) if repeats > 1 else float("nan"),
    }


def evaluate_text(encoder: nn.Module, bundle: DataBundle, device: Any = "cpu") -> dict[str, Any]:
    """The text figures that ``bundle`` allows; ``{}`` when it has neither labels nor human ratings.

    * ``lee_spearman`` when human similarity ratings of the held-out texts are given
      (``info["human_similarity"]``, the Lee corpus);
    * ``linear_probe_acc`` and ``knn_acc`` on the fixed held-out split of labelled data, and the less noisy
      ``linear_probe_cv_acc``: the mean over 5 x 5-fold stratified cross-validation on all labelled texts
      (train and held-out together, see :func:`probe_cv`), with ``linear_probe_cv_sd``, the standard
      deviation over the 25 folds;
    * ``linear_probe_cv_acc`` and ``linear_probe_cv_sd`` on ``info["probe_texts"]``/``["probe_labels"]``,
      labelled texts that come with unlabelled training data (``text:wiki``).
    """
    figures: dict[str, Any] = {}
    if "human_similarity" in bundle.info and bundle.test is not None:
        figures["lee_spearman"] = lee_spearman(encoder, bundle.test, bundle.info["human_similarity"], device)
    if "probe_texts" in bundle.info:
        texts, labels = list(bundle.info["probe_texts"]), bundle.info["probe_labels"]
    elif bundle.train_labels is not None and bundle.test is not None and bundle.test_labels is not None:
        figures.update(probe_and_knn(encoder, bundle, device))
        train, test = evaluation_subset(bundle.train, CV_TEXTS), evaluation_subset(bundle.test, CV_TEXTS)
        texts = list(train) + list(test)
        labels = torch.cat(
            [
                bundle.train_labels if train is bundle.train else train.labels,
                bundle.test_labels if test is bundle.test else test.labels,
            ]
        )
    else:
        return figures
    cv = probe_cv(encoder, texts, labels, device, repeats=CV_REPEATS)
    figures.update({"linear_probe_cv_acc": cv["acc"], "linear_probe_cv_sd": cv["sd"]})
    return figures


def _encoder_kwargs(bundle: DataBundle) -> dict[str, Any]:
    from encoders.text import Vocabulary

    long = _is_long(bundle)
    texts = _texts(bundle.train, VOCAB_TEXTS)
    vocab = Vocabulary.build(texts, min_freq=2 if len(texts) > 1000 or long else 1)
    return {"vocab": vocab.tokens, "max_len": 256 if long else 64}


def text_recipe(bundle: DataBundle) -> Recipe:
    """Defaults for text data: a bag-of-words encoder trained by SimCLR on crops.

    Passages and documents (more than 40 words on average: ``text:wiki``, ``text:lee``) default to two
    short crops of each (25-50% of the words), which are mostly different sentences on one topic (as in
    DeCLUTR); sentences (``text:polarity``) default to a synonym swap plus a long crop (60-100%).
    """
    from pairs.views import text as tv

    long = _is_long(bundle)
    crop = (0.25, 0.5) if long else (0.6, 1.0)
    views: dict[str, Any] = {
        "synonym_crop": lambda b: tv.synonym_crop_view(p=0.2, crop=crop),
        "crop": lambda b: tv.SpanCrop(crop),
        "eda": lambda b: tv.eda_view(alpha=0.1),
        "synonym": lambda b: tv.SynonymSwap(p=0.2),
        "dropout_crop": lambda b: Compose([tv.SpanCrop(crop), tv.WordDropout(0.1)]),
    }
    if long:  # the default (first) view: crops of passages
        views = {"crop": views.pop("crop"), **views}
    small = len(bundle.train) < 1000
    return Recipe(
        views=views,
        encoder="text_bow",
        encoder_kwargs=_encoder_kwargs,
        evaluate=evaluate_text,
        method="simclr",
        method_kwargs={"temperature": 0.1},
        epochs=EPOCHS_SMALL if small else EPOCHS_LARGE,
        batch_size=64 if small else 128,
        lr=2e-3,
        weight_decay=1e-4,
        optimizer="adamw",
        warmup_epochs=1.0,
        preview=preview_text,
    )


def preview_text(bundle: DataBundle, view: Any, n: int, n_views: int, path: str, seed: int) -> None:
    """Draw ``n`` samples (from as many classes as there are) and ``n_views`` views of each as text: words
    not in the original in red, words of the original left out (crops, deletions) marked ``[-k]`` in grey,
    and under each view, in blue, the steps it applied with their parameters (which words were swapped,
    inserted or deleted, which span was kept)."""
    import difflib
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from pairs.domains.preview import draw_views, new_figure, pick_rows, row_names
    from pairs.views.describe import describe

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
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.axis("off")
    renderer = canvas.get_renderer()
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
    import textwrap

    out = []
    wrapped = textwrap.wrap(" ".join(w for w, _ in words), width) or [""]
    pos = 0
    for j, line in enumerate(wrapped):
        count = len(line.split())
        out.append((label if j == 0 else "", words[pos : pos + count]))
        pos += count
    return out


register_recipe("text", text_recipe)
