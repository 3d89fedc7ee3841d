"""Text evaluation protocols: Lee similarity correlation, probes on a held-out split and by cross-validation.

:func:`evaluate_text` gives the figures a text bundle allows: ``lee_spearman`` (:func:`lee_spearman`,
against the Lee corpus's human similarity ratings), ``linear_probe_acc`` / ``knn_acc`` on a labelled
held-out split (:func:`pairs.eval.protocols.probe_and_knn`) and ``linear_probe_cv_acc`` by repeated
stratified cross-validation over all labelled texts (:func:`probe_cv`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pairs.data.registry import DataBundle
from pairs.data.source import evaluation_subset
from pairs.errors import DataError
from pairs.eval.protocols import probe_and_knn

__all__ = ["CV_REPEATS", "CV_TEXTS", "evaluate_text", "lee_spearman", "probe_cv"]

CV_REPEATS = 5
"""Repeats of the 5-fold cross-validated probe in :func:`evaluate_text`."""


CV_TEXTS = 2_000
"""Most texts of a streamed file in the cross-validated probe (a seeded random sample per split)."""


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
