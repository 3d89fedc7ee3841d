"""Results out of a trained run: the encoder back in Python, embeddings, similarity search, anomaly
scores, a report figure and TensorBoard logs.

>>> import pairs  # doctest: +SKIP
>>> encoder = pairs.load_encoder("runs/digits")  # doctest: +SKIP
>>> z = encoder(encoder.preprocess(images))  # doctest: +SKIP

Modules are imported on first use, so ``import pairs.results`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "load_encoder": "pairs.results.loading",
    "load_method": "pairs.results.loading",
    "load_run": "pairs.results.loading",
    "Preprocess": "pairs.results.loading",
    "open_items": "pairs.results.items",
    "Items": "pairs.results.items",
    "embed": "pairs.results.embedding",
    "encode_items": "pairs.results.embedding",
    "encode_batches": "pairs.results.embedding",
    "EmbeddingIndex": "pairs.results.similarity",
    "build_index": "pairs.results.similarity",
    "search": "pairs.results.similarity",
    "anomaly": "pairs.results.anomaly_scores",
}


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'pairs.results' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_NAMES])


__all__ = sorted(_NAMES)
