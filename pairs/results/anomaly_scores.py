"""Anomaly scores with a trained run: k-NN cosine distance to a reference collection's embeddings (or the
Mahalanobis distance to a Gaussian fitted on them), written like ``pairs embed``; ROC-AUC when the data
marks anomalies by label. What ``pairs anomaly`` calls.

The reference is encoded batch by batch into an index (:mod:`pairs.results.similarity`), the Mahalanobis
statistics are accumulated batch by batch, and the data is scored batch by batch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pairs.errors import ConfigError, DataError, OutputError
from pairs.results.embedding import OUT_SUFFIXES, VectorWriter, check_domain, encode_batches
from pairs.results.items import Items, open_items
from pairs.results.similarity import build_index, exact_topk
from pairs.validation import positive_int

__all__ = ["anomaly", "SCORES", "RawFeatures", "GaussianStats", "resolve_labels"]

SCORES = ("knn", "mahalanobis")


class RawFeatures(nn.Module):
    """The raw-input baseline: the preprocessed input flattened, with the encoder's ``preprocess``.

    Shape:
        ``(B, ...) -> (B, prod(...))``.
    """

    def __init__(self, preprocess: Any) -> None:
        super().__init__()
        self.preprocess = preprocess

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise DataError(f"the raw-input baseline needs tensor inputs, not {type(x).__name__} ones")
        return torch.nan_to_num(x.flatten(1).float())


class GaussianStats:
    """Mean and covariance of embeddings accumulated batch by batch (float64), for Mahalanobis scores.

    The covariance is shrunk as :func:`pairs.eval.mahalanobis_anomaly_score` does:
    ``(1 - s) C + s * tr(C)/D * I``.
    """

    def __init__(self, dim: int) -> None:
        self.n = 0
        self.sum = torch.zeros(dim, dtype=torch.float64)
        self.outer = torch.zeros(dim, dim, dtype=torch.float64)

    def add(self, x: Tensor) -> None:
        x = x.double()
        self.n += len(x)
        self.sum += x.sum(0)
        self.outer += x.T @ x

    def scorer(self, shrinkage: float = 1e-3) -> Any:
        if self.n < 2:
            raise DataError(f"a Gaussian needs at least 2 reference items, got {self.n}")
        mu = self.sum / self.n
        cov = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        d = cov.shape[0]
        scale = cov.diagonal().mean().clamp_min(1e-12)
        cov = (1 - shrinkage) * cov + shrinkage * scale * torch.eye(d, dtype=cov.dtype)

        def score(x: Tensor) -> Tensor:
            diff = x.double() - mu
            sol = torch.linalg.solve(cov, diff.T).T
            return (diff * sol).sum(1).clamp_min(0).sqrt()

        return score


def resolve_labels(wanted: Sequence[int | str], classes: list[str] | None) -> list[int]:
    """Label indices from ``wanted`` (indices or class names).

    Raises:
        ConfigError: a name that is not a class, or a value that is neither.
    """
    out = []
    for w in wanted:
        text = str(w)
        if text.lstrip("-").isdigit():
            out.append(int(text))
        elif classes and text in classes:
            out.append(classes.index(text))
        else:
            known = f"; classes: {', '.join(classes)}" if classes else ""
            raise ConfigError(f"--anomaly-label {text!r} is neither a label index nor a class name{known}")
    return out


def _score_batches(
    encoder: nn.Module,
    reference: Items,
    data: Items,
    *,
    k: int,
    score: str,
    batch_size: int | None,
    device: Any,
) -> Any:
    """Yield ``(start, scores)`` for the data, batch by batch."""
    if score == "knn":
        index = build_index(encoder, reference, batch_size=batch_size, device=device)
        if k > len(index):
            raise ConfigError(f"-k {k} is larger than the reference ({len(index)} items); lower -k")
        for start, feats in encode_batches(encoder, data, batch_size=batch_size, device=device):
            q = feats / feats.norm(dim=1, keepdim=True).clamp_min(torch.finfo(feats.dtype).eps)
            sims, _ = exact_topk(q, index.vectors, k)
            yield start, (1.0 - sims[:, -1]).double()
        return
    stats: GaussianStats | None = None
    for _, feats in encode_batches(encoder, reference, batch_size=batch_size, device=device):
        stats = stats or GaussianStats(feats.shape[1])
        stats.add(feats)
    assert stats is not None
    scorer = stats.scorer()
    for start, feats in encode_batches(encoder, data, batch_size=batch_size, device=device):
        yield start, scorer(feats)


def anomaly(
    run: str | os.PathLike,
    reference: str,
    data: str,
    *,
    out: str | os.PathLike | None = None,
    reference_split: str = "train",
    data_split: str = "test",
    anomaly_labels: Sequence[int | str] = (),
    score: str = "knn",
    k: int = 5,
    raw_baseline: bool = False,
    batch_size: int | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Anomaly score of every item of ``data`` against the ``reference`` collection (larger = more anomalous).

    Args:
        run: run directory or its ``checkpoint.pt``.
        reference: data spec of normal items.
        data: data spec of the items to score.
        out: optional ``.npy`` (scores ``(N,)``; ids/labels in ``<stem>.items.jsonl``) or ``.parquet``
            (columns ``id``, ``label``, ``score``).
        reference_split, data_split: ``all``, ``train`` or ``test`` of the specs.
        anomaly_labels: labels (indices or class names) that mark anomalies: reference items with them are
            left out, data items with them are the positives of the ROC-AUC.
        score: ``"knn"`` (cosine distance ``1 - cos`` to the ``k``-th nearest reference embedding; Bergman et
            al. 2020) or ``"mahalanobis"`` (Lee et al. 2018, shrunk covariance).
        k: neighbours for ``knn``.
        raw_baseline: also score the raw inputs (flattened) the same way: ``raw_roc_auc``.
        batch_size: items per forward pass.
        device: where the encoder runs.

    Returns:
        ``{"n", "n_reference", "score", "k", "out", "roc_auc" and "n_anomalies" (with anomaly labels),
        "raw_roc_auc" (with ``raw_baseline``), "mean_score"}``.

    Raises:
        CheckpointError, DataError, ConfigError, OutputError: see the messages.
    """
    from pairs.eval import roc_auc
    from pairs.results.loading import load_encoder
    from pairs.train import resolve_device

    if score not in SCORES:
        raise ConfigError(f"--score must be one of {', '.join(SCORES)}, got {score!r}")
    positive_int("-k", k)
    path = None
    if out is not None:
        path = Path(out).expanduser()
        if path.suffix.lower() not in OUT_SUFFIXES:
            raise ConfigError(f"--out must end in .npy or .parquet, got {out}")
        if not path.parent.exists():
            raise OutputError(f"folder {path.parent} does not exist; create it first")
    dev = resolve_device(device)
    encoder = load_encoder(run, dev)
    ref = open_items(reference, reference_split)
    items = open_items(data, data_split)
    check_domain(encoder, ref)
    check_domain(encoder, items)
    marked: list[int] = []
    if anomaly_labels:
        if items.labels is None:
            raise ConfigError(f"--anomaly-label needs labelled data, but {items.spec!r} has no labels")
        marked = resolve_labels(anomaly_labels, items.classes)
        held = torch.tensor(marked)
        if ref.labels is not None:
            ref = ref.select(~torch.isin(ref.labels, held))
            if len(ref) == 0:
                raise ConfigError("every reference item carries an --anomaly-label; nothing normal is left")
    # marked labels imply labelled items (checked above)
    is_anomaly = (
        torch.isin(items.labels, torch.tensor(marked)).long() if marked and items.labels is not None else None
    )
    if is_anomaly is not None and int(is_anomaly.sum()) in (0, len(items)):
        raise DataError(
            f"--anomaly-label {', '.join(map(str, anomaly_labels))} marks {int(is_anomaly.sum())} of "
            f"{len(items)} items of {items.spec!r}; ROC-AUC needs both normal and anomalous items"
        )
    writer = VectorWriter(path, len(items)) if path is not None else None
    all_scores = torch.empty(len(items), dtype=torch.float64)
    for start, s in _score_batches(encoder, ref, items, k=k, score=score, batch_size=batch_size, device=dev):
        all_scores[start : start + len(s)] = s
        if writer is not None and path is not None:  # a writer has a path
            ids = [items.item_id(i) for i in range(start, start + len(s))]
            labels = None if items.labels is None else items.labels[start : start + len(s)].tolist()
            if path.suffix.lower() == ".npy":  # scores (N,), ids and labels in the side file
                writer.write(start, s.float().numpy(), ids, labels)
            else:
                writer.write(start, None, ids, labels, {"score": s.numpy()})
    if writer is not None:
        writer.close()
    report: dict[str, Any] = {
        "data": items.spec,
        "reference": ref.spec,
        "n": len(items),
        "n_reference": len(ref),
        "score": score,
        "k": k if score == "knn" else None,
        "mean_score": float(all_scores.mean()),
        "out": None if path is None else str(path),
    }
    if is_anomaly is not None:
        report["n_anomalies"] = int(is_anomaly.sum())
        report["anomaly_labels"] = marked
        report["roc_auc"] = roc_auc(all_scores, is_anomaly)
        if raw_baseline:
            raw = RawFeatures(encoder.preprocess)
            raw_scores = torch.cat(
                [
                    s
                    for _, s in _score_batches(
                        raw, ref, items, k=k, score=score, batch_size=batch_size, device="cpu"
                    )
                ]
            )
            report["raw_roc_auc"] = roc_auc(raw_scores, is_anomaly)
    elif raw_baseline:
        raise ConfigError("--raw-baseline compares ROC-AUCs, so it needs --anomaly-label")
    report["scores"] = all_scores
    return report
