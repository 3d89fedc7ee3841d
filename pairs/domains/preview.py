"""What every domain's ``pairs preview`` drawing shares: rows from several classes, class names, the
parameters each view drew (:func:`pairs.views.describe.describe`) and a figure drawn on a
:class:`matplotlib.figure.Figure` (the user's matplotlib backend is never switched).
"""

from __future__ import annotations

import textwrap
from typing import Any

import torch
from torch import Tensor

from pairs.data.registry import DataBundle
from pairs.views.describe import describe

__all__ = ["pick_rows", "class_name", "new_figure", "view_lines", "wrap", "draw_views", "VIEW_COLOURS"]

VIEW_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")
"""The colour of view ``k`` (``VIEW_COLOURS[k % 7]``) wherever a preview marks it on the original."""


def pick_rows(labels: Tensor | None, n: int, total: int) -> list[int]:
    """``n`` item positions that cover as many classes as possible: the first item of each class (in the
    order classes first appear), then the second of each, ...; the first ``n`` items when unlabelled.

    Args:
        labels: ``(total,)`` labels or ``None``.
        n: rows wanted (at most ``total`` are returned).
        total: number of items.
    """
    n = min(n, total)
    if labels is None:
        return list(range(n))
    labels = labels[:total].cpu()
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels.tolist()):
        by_class.setdefault(int(y), []).append(i)
    queues = list(by_class.values())
    rows: list[int] = []
    depth = 0
    while len(rows) < n:
        for q in queues:
            if depth < len(q) and len(rows) < n:
                rows.append(q[depth])
        depth += 1
    return rows


def class_name(bundle: DataBundle, label: int) -> str:
    """The name of class ``label`` (from the data's class names), else ``"class <label>"``."""
    names = (
        bundle.info.get("classes")
        or bundle.info.get("class_names")
        or getattr(bundle.train, "classes", None)
        or []
    )
    return str(names[label]) if 0 <= label < len(names) else f"class {label}"


def row_names(bundle: DataBundle, rows: list[int]) -> list[str | None]:
    """The class name of each row's item (``None`` for unlabelled data)."""
    if bundle.train_labels is None:
        return [None] * len(rows)
    return [class_name(bundle, int(bundle.train_labels[i])) for i in rows]


def new_figure(width: float, height: float) -> Any:
    """A :class:`matplotlib.figure.Figure` with constrained layout (no pyplot, no backend switch)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def view_lines(view: Any, params: Any, batch: Any, i: int, width: int = 40) -> str:
    """The steps view ``view`` applied to example ``i`` with their parameters, wrapped to ``width``."""
    return wrap(describe(view, params, batch, i), width)


def wrap(lines: list[str], width: int) -> str:
    return "\n".join(textwrap.fill(line, width, subsequent_indent="  ") for line in lines) or "(unchanged)"


def draw_views(view: Any, batch: Any, n_views: int, seed: int) -> tuple[list[Any], list[Any], list[Any]]:
    """``n_views`` views of ``batch`` with the parameters each drew: ``(outputs, views, params)``.

    View ``k`` is drawn from ``torch.Generator().manual_seed(seed + k)``; ``view`` is one view (used for
    every copy) or a list (asymmetric recipes: copy ``k`` uses ``view[k % len(view)]``).
    """
    choices = list(view) if isinstance(view, (list, tuple)) else [view]
    outs, used, params = [], [], []
    for k in range(n_views):
        v = choices[k % len(choices)]
        out, p = v(batch, torch.Generator().manual_seed(seed + k), return_params=True)
        outs.append(out)
        used.append(v)
        params.append(p)
    return outs, used, params
