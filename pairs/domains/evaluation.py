"""Moved: the shared evaluation protocol lives in :mod:`pairs.eval.protocols` (re-exported here)."""

from __future__ import annotations

from pairs.eval.protocols import EVAL_MAX_ITEMS, probe_and_knn

__all__ = ["EVAL_MAX_ITEMS", "probe_and_knn"]
