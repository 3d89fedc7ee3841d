"""Text defaults: a bag-of-words encoder trained by SimCLR on crops; Lee Spearman and probes for figures.

``pairs train --data text:wiki`` (unlabelled Wikipedia and news passages), ``text:polarity``, ``text:lee`` or
``text:FILE`` uses these. The encoder (``text_bow``, the mean of word embeddings: on a few thousand texts and
CPU it learns more, and much faster, than the BiGRU or the Transformer, which ``--encoder`` still selects)
gets a vocabulary built from the training texts (``encoder_kwargs``), saved as a plain token list with the
run, so ``pairs eval --checkpoint`` rebuilds the same encoder. Figures (:func:`evaluate_text`): the
Spearman correlation between the encoder's cosine similarities and the human similarity ratings of the Lee
corpus's 50 documents (``lee_spearman``), and for labelled data a linear probe and kNN on the held-out split
plus a probe by repeated stratified cross-validation over all labelled texts (``linear_probe_cv_acc``),
which is far less noisy on the 200 polarity sentences. The protocols live in
:mod:`pairs.eval.text_protocols` (re-exported here), the drawing in :mod:`pairs.domains.preview`.
"""

from __future__ import annotations

from typing import Any

from pairs.data.registry import DataBundle
from pairs.data.source import evaluation_subset
from pairs.domains import Recipe, register_recipe
from pairs.domains.preview import draw_text_item, preview_text
from pairs.eval.text_protocols import evaluate_text, lee_spearman, probe_cv
from pairs.views.base import Compose

EPOCHS_SMALL = 30
"""Default epochs for fewer than 1,000 training texts."""
EPOCHS_LARGE = 10
"""Default epochs for 1,000 training texts or more."""

__all__ = ["evaluate_text", "lee_spearman", "preview_text", "probe_cv", "text_recipe"]


def _mean_words(texts: list[str]) -> float:
    return sum(len(t.split()) for t in texts) / max(1, len(texts))


VOCAB_TEXTS = 50_000
"""Texts of a streamed file the vocabulary is built from (a seeded random sample; all of a smaller file)."""


def _texts(data: Any, limit: int) -> list[str]:
    """All texts of ``data`` (a list, or a source of at most ``limit`` texts), else a seeded sample."""
    return list(evaluation_subset(data, limit))


def _is_long(bundle: DataBundle) -> bool:
    return _mean_words(_texts(bundle.train, 2_000)) > 40


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
        draw_item=draw_text_item,
    )


register_recipe("text", text_recipe)
