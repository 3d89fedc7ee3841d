"""Evaluation of frozen features: probes, kNN, retrieval and label-free embedding metrics.

Every function takes features ``(N, D)`` (numpy or torch) and integer labels ``(N,)``, so all domains
share them; :func:`extract_features` turns an encoder and a dataset into such features.

>>> import torch
>>> from pairs import eval as ev
>>> x, y = torch.randn(100, 16), torch.arange(100) % 4
>>> 0.0 <= ev.knn_accuracy(x[:80], y[:80], x[80:], y[80:], k=5) <= 1.0
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from pairs.data.source import InMemorySource, default_workers, is_streamed
from pairs.eval.anomaly import centroid_anomaly_score, knn_anomaly_score, mahalanobis_anomaly_score, roc_auc
from pairs.eval.knn import knn_accuracy, knn_predict, nearest_neighbors
from pairs.eval.metrics import alignment, as_features, as_labels, effective_rank, embedding_std, uniformity
from pairs.eval.probe import linear_probe, svm_accuracy, svm_cv_accuracy
from pairs.eval.retrieval import recall_at_k
from pairs.eval.search import SimilarityIndex
from pairs.frozen import frozen
from pairs.validation import positive_int

__all__ = [
    "SimilarityIndex",
    "centroid_anomaly_score",
    "knn_anomaly_score",
    "mahalanobis_anomaly_score",
    "roc_auc",
    "alignment",
    "as_features",
    "as_labels",
    "effective_rank",
    "embedding_std",
    "extract_features",
    "knn_accuracy",
    "knn_predict",
    "linear_probe",
    "nearest_neighbors",
    "recall_at_k",
    "svm_accuracy",
    "svm_cv_accuracy",
    "uniformity",
]


def _first(item: Any, kinds: tuple[type, ...] = (tuple,)) -> Any:
    """The input of an ``(x, y, ...)`` item (a tuple; a list too for collated batches), else ``item``."""
    is_item = isinstance(item, kinds)  # kept apart: narrowing to the runtime kinds would type item as object
    return item[0] if is_item and len(item) > 0 else item


def _collate(items: list) -> Any:
    """Stack tensors of one shape into a batch; anything else stays a list (for ``transform``/encoder)."""
    if items and all(isinstance(i, Tensor) for i in items) and len({tuple(i.shape) for i in items}) == 1:
        return torch.stack(items)
    return items


def _batches(
    data: Any, batch_size: int, workers: int | None = None, progress: bool | None = None
) -> Iterable[Any]:
    if isinstance(data, InMemorySource):
        data = data.data
    if is_streamed(data):  # read in order by DataLoader workers, with a progress bar
        n_workers = default_workers() if workers is None else int(workers)
        loader = DataLoader(
            data,
            batch_size=batch_size,
            shuffle=False,
            num_workers=n_workers,
            collate_fn=_collate,
            worker_init_fn=_worker_init if n_workers > 0 else None,
        )
        # progress None: a bar on a terminal (tqdm's disable=None) when there is more than one batch
        disable = (None if len(data) > batch_size else True) if progress is None else not progress
        yield from tqdm(loader, desc="features", disable=disable, leave=False, dynamic_ncols=True)
        return
    if isinstance(data, Tensor):
        if data.dim() == 0 or data.shape[0] == 0:
            raise ValueError(f"data is an empty or 0-d tensor (shape {tuple(data.shape)}); expected (N, ...)")
        for s in range(0, data.shape[0], batch_size):
            yield data[s : s + batch_size]
        return
    if isinstance(data, DataLoader):
        for batch in data:
            yield _first(batch, (tuple, list))
        return
    if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise TypeError(
            "data must be a tensor (N, ...), a DataLoader, or a dataset/list supporting len() and indexing, "
            f"got {type(data).__name__}"
        )
    n = len(data)
    if n == 0:
        raise ValueError("data is empty; expected at least one sample")
    for s in range(0, n, batch_size):
        yield _collate([_first(data[i]) for i in range(s, min(n, s + batch_size))])


def _worker_init(worker_id: int) -> None:
    torch.set_num_threads(1)


def _to(batch: Any, device: torch.device) -> Any:
    to = getattr(batch, "to", None)
    return to(device) if callable(to) else batch


def extract_features(
    encoder: nn.Module | Callable[[Any], Tensor],
    data: Any,
    *,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    transform: Callable[[Any], Any] | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> Tensor:
    """Run an encoder over a dataset in eval mode, without gradients, and collect its features.

    The encoder is put in eval mode and moved to ``device`` for the run; its previous mode and device
    are restored afterwards.

    Args:
        encoder: an ``nn.Module`` (or any callable) mapping a batch to ``(B, D)`` features.
        data: a tensor ``(N, ...)`` (split along the first dimension), a :class:`~pairs.data.source.Source`
            (a streamed one is read in order, ``source[i]``, by ``DataLoader`` workers), a ``DataLoader``
            (its batches are used as they are; a tuple/list batch ``[x, y, ...]`` contributes ``x``), or a
            dataset / list of samples (a tuple item ``(x, y, ...)`` contributes ``x``). Samples that are
            tensors of one shape are stacked; other samples (strings, graphs) are passed on as a list,
            for ``transform`` to collate or for the encoder to take.
        batch_size: samples per batch (ignored for a ``DataLoader``).
        device: where the encoder runs.
        transform: optional function applied to each batch before it is moved to ``device`` (e.g. a
            normalisation or a collate function such as ``torch_geometric.data.Batch.from_data_list``).
        workers: ``DataLoader`` workers reading a streamed source (default
            :func:`~pairs.data.source.default_workers`); unused for other data.
        progress: show a progress bar over the batches of a streamed source (default: on a terminal, when
            it has more than one batch).

    Returns:
        float32 CPU features ``(N, D)``.

    Raises:
        TypeError: on an unsupported ``data`` type, a non-callable encoder or an encoder output that is
            not a tensor.
        ValueError: on empty data, a bad ``batch_size``, or an encoder output that is not ``(B, D)``.

    Shape:
        ``data``: ``(N, ...)`` -> ``(N, D)``.
    """
    if not callable(encoder):
        raise TypeError(f"encoder must be an nn.Module or a callable, got {type(encoder).__name__}")
    positive_int("batch_size", batch_size)
    if transform is not None and not callable(transform):
        raise TypeError(f"transform must be callable or None, got {type(transform).__name__}")
    device = torch.device(device)
    module = encoder if isinstance(encoder, nn.Module) else None
    outs: list[Tensor] = []
    with frozen(module, device if module is not None else None):
        for batch in _batches(data, int(batch_size), workers, progress):
            if transform is not None:
                batch = transform(batch)
            out = encoder(_to(batch, device))
            if not isinstance(out, Tensor):
                raise TypeError(f"the encoder returned {type(out).__name__}; expected a (B, D) tensor")
            if out.dim() != 2:
                raise ValueError(
                    f"the encoder returned shape {tuple(out.shape)}; expected (B, D) features "
                    "(pool or flatten the output, e.g. with a wrapper module)"
                )
            outs.append(out.detach().to(device="cpu", dtype=torch.float32))
    if not outs:
        raise ValueError("data produced no batches; expected at least one sample")
    dims = {o.shape[1] for o in outs}
    if len(dims) > 1:
        raise ValueError(f"the encoder returned different feature sizes across batches: {sorted(dims)}")
    return torch.cat(outs)
