"""pairs: contrastive self-supervised learning across domains.

Views (:mod:`pairs.views`), pairing datasets (:mod:`pairs.pairing`), one loss family (:mod:`pairs.losses`),
methods (:mod:`pairs.methods`), one trainer (:mod:`pairs.train`), evaluation (:mod:`pairs.eval`) and offline
data (:mod:`pairs.data`). The common names are available at the top level and imported on first use::

    import pairs
    loader = pairs.ViewLoader(x, pairs.views.image.simclr_view(32), batch_size=256)
    pairs.Trainer(pairs.SimCLR(encoder), pairs.TrainConfig(epochs=10)).fit(loader)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "views",
    "pairing",
    "losses",
    "methods",
    "train",
    "eval",
    "data",
    "domains",
    "experiment",
    "results",
    "errors",
)

_NAMES = {
    # views
    "View": "pairs.views.base",
    "Compose": "pairs.views.base",
    "RandomApply": "pairs.views.base",
    "OneOf": "pairs.views.base",
    # pairing
    "ViewBatch": "pairs.pairing",
    "ViewLoader": "pairs.pairing",
    "MultiViewDataset": "pairs.pairing",
    "SiamesePairDataset": "pairs.pairing",
    "TripletDataset": "pairs.pairing",
    "collate_views": "pairs.pairing",
    "collate_pairs": "pairs.pairing",
    "collate_triplets": "pairs.pairing",
    # losses
    "nt_xent": "pairs.losses",
    "supcon_loss": "pairs.losses",
    "info_nce": "pairs.losses",
    "clip_loss": "pairs.losses",
    "NegativeQueue": "pairs.losses",
    # methods and training
    "Method": "pairs.methods",
    "SimCLR": "pairs.methods",
    "build_method": "pairs.methods",
    "available_methods": "pairs.methods",
    "Trainer": "pairs.train",
    "TrainConfig": "pairs.train",
    # evaluation
    "linear_probe": "pairs.eval",
    "knn_accuracy": "pairs.eval",
    "svm_cv_accuracy": "pairs.eval",
    "svm_accuracy": "pairs.eval",
    "alignment": "pairs.eval",
    "uniformity": "pairs.eval",
    "effective_rank": "pairs.eval",
    "recall_at_k": "pairs.eval",
    "extract_features": "pairs.eval",
    # results of a trained run
    "load_encoder": "pairs.results.loading",
    "load_method": "pairs.results.loading",
    # data
    "load_data": "pairs.data",
    "known_specs": "pairs.data",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"pairs.{name}")
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'pairs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES, *_NAMES])


__all__ = sorted([*_SUBMODULES, *_NAMES])
