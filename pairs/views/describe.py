"""Words for what a view did to one example: the steps it applied and the parameters it drew.

Views return their parameters (``view(x, g, return_params=True)``, see :mod:`pairs.views.base`);
:func:`describe` turns them into short lines such as ``"PitchShift +1.8 semitones"``,
``"DropNodes: dropped nodes 3, 7"``, ``"SynonymSwap: philosophy→doctrine"`` or
``"RandomResizedCrop: rows 2-27, cols 0-19"``, which ``pairs preview`` prints under each view.
:func:`example_params` gives the parameters of one example (the leaves of a composed view with the
example's own entries), which previews use to draw them (dropped nodes greyed, crops boxed).

Nothing here draws randomness or changes a view: the walk reads the parameters, and replays earlier steps
of a :class:`~pairs.views.base.Compose` (``apply``, deterministic) only to know the batch a later step saw.

Example:
    >>> import torch
    >>> from pairs.views import audio
    >>> view = audio.PitchShift(16000, semitones=(-2.0, 2.0))
    >>> x = torch.zeros(2, 1, 1600)
    >>> _, params = view(x, 0, return_params=True)
    >>> describe(view, params, x, 0)  # doctest: +SKIP
    ['PitchShift: +1.0 semitones']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from pairs.views.base import Compose, OneOf, Params, RandomApply, View, batch_len, take

__all__ = ["Step", "describe", "example_params", "FORMATTERS"]


@dataclass
class Step:
    """One leaf view applied to one example.

    Attributes:
        view: the leaf view.
        params: the parameters it drew for the (sub-)batch it saw.
        batch: that (sub-)batch, as the view saw it (the output of the earlier steps).
        index: the example's position in ``batch``.
    """

    view: View
    params: Params
    batch: Any
    index: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return type(self.view).__name__


def example_params(view: Any, params: Params, batch: Any, i: int) -> list[Step]:
    """The leaf steps applied to example ``i`` of ``batch``, in order, each with the sub-batch it saw.

    :class:`~pairs.views.base.RandomApply` steps that skipped the example are left out; for a
    :class:`~pairs.views.base.OneOf`, the chosen view. A leaf inside ``RandomApply``/``OneOf`` drew its
    parameters for the examples it was applied to only, so ``Step.index`` is the example's rank among them.

    Args:
        view: the view (or composition) that made the parameters.
        params: what ``view(batch, g, return_params=True)`` returned.
        batch: the batch the view got.
        i: the example, ``0 <= i < batch_len(batch)``.

    Raises:
        IndexError: ``i`` out of range.
    """
    n = batch_len(batch)
    if not 0 <= i < n:
        raise IndexError(f"example {i} out of range for a batch of {n}")
    steps: list[Step] = []
    _walk(view, params, batch, i, steps)
    return steps


def _rank(mask: Tensor, i: int) -> tuple[Tensor, int]:
    index = mask.cpu().nonzero().flatten()
    return index, int((index < i).sum())


def _walk(view: Any, params: Params, batch: Any, i: int, steps: list[Step]) -> None:
    if isinstance(view, Compose):
        last = len(view.views) - 1
        for k, (v, p) in enumerate(zip(view.views, params["views"], strict=True)):
            _walk(v, p, batch, i, steps)
            if k < last:
                batch = v.apply(batch, p)  # what the next step saw (deterministic replay)
        return
    if isinstance(view, RandomApply):
        applied = params["applied"].cpu()
        if not bool(applied[i]):
            return
        index, j = _rank(applied, i)
        sub = batch if len(index) == len(applied) else take(batch, index)
        _walk(view.view, params["params"], sub, j, steps)
        return
    if isinstance(view, OneOf):
        choice = params["choice"].cpu()
        k = int(choice[i])
        index, j = _rank(choice == k, i)
        _walk(view.views[k], params["params"][k], take(batch, index), j, steps)
        return
    steps.append(Step(view, params, batch, i))


def describe(view: Any, params: Params, batch: Any, i: int) -> list[str]:
    """One line per step applied to example ``i``: the view's name and the parameters it drew.

    Args:
        view: the view (or composition) that made ``params``.
        params: its parameters for ``batch``.
        batch: the batch it got.
        i: the example.

    Returns:
        Lines such as ``"RandomAffine: rotate 14°, shift (0, 1) px, scale 0.96"``; steps with nothing drawn
        (a fixed normalisation) are left out.
    """
    lines = []
    for step in example_params(view, params, batch, i):
        text = FORMATTERS.get(step.name, _generic)(step)
        if text:
            lines.append(f"{step.name}: {text}")
    return lines


# --------------------------------------------------------------------------------------------------
# Formatters: one per view class name; anything else goes through _generic
# --------------------------------------------------------------------------------------------------
def _own(step: Step, key: str) -> Any:
    """The example's entry of a per-example parameter."""
    return step.params[key][step.index]


def _f(value: Any, digits: int = 2) -> str:
    v = float(value) + 0.0  # no "-0"
    if round(v, digits) == 0:
        v = 0.0
    return f"{v:.{digits}f}".rstrip("0").rstrip(".") if abs(v) < 1e4 else f"{v:.3g}"


def _generic(step: Step) -> str | None:
    """Per-example scalars and short vectors of the parameters (long ones such as noise are left out)."""
    n = batch_len(step.batch)
    parts = []
    for key, value in step.params.items():
        if isinstance(value, Tensor) and value.dim() >= 1 and value.shape[0] == n:
            own = value[step.index]
            if own.numel() == 1:
                parts.append(f"{key} {own.item() if own.dtype == torch.bool else _f(own)}")
            elif own.numel() <= 4:
                parts.append(f"{key} ({', '.join(_f(v) for v in own.flatten())})")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{key} {_f(value)}")
    return ", ".join(parts) if parts else None


def _crop_boxes(step: Step) -> str:
    top, left, h, w = (int(v) for v in _own(step, "boxes"))
    return f"rows {top}-{top + h - 1}, cols {left}-{left + w - 1}"


def _affine(step: Step) -> str:
    tx, ty = (float(v) for v in _own(step, "translate"))
    text = f"rotate {_f(_own(step, 'angle'), 1)}°, shift ({_f(tx, 1)}, {_f(ty, 1)}) px"
    text += f", scale {_f(_own(step, 'scale'))}"
    sx, sy = (float(v) for v in _own(step, "shear"))
    if sx or sy:
        text += f", shear ({_f(sx, 1)}, {_f(sy, 1)})°"
    return text


def _jitter(step: Step) -> str | None:
    if not bool(_own(step, "applied")):
        return None
    names = ("brightness", "contrast", "saturation", "hue")
    ranges = getattr(step.view, "_ranges", (True,) * 4)
    factors = _own(step, "factors")
    grey = isinstance(step.batch, Tensor) and step.batch.dim() == 4 and step.batch.shape[1] == 1
    shown = [
        f"{names[k]} {_f(factors[k])}"
        for k in range(4)
        if ranges[k] is not None and not (grey and k >= 2)  # saturation and hue do nothing to grey images
    ]
    return ", ".join(shown) or None


def _flag(key: str, word: str) -> Callable[[Step], str | None]:
    return lambda step: word if bool(_own(step, key)) else None


def _blur(step: Step) -> str | None:
    return f"sigma {_f(_own(step, 'sigma'))}" if bool(_own(step, "applied")) else None


def _seconds(step: Step, samples: Any) -> str:
    rate = getattr(step.view, "sample_rate", None)
    return f"{_f(int(samples) / rate, 3)} s" if rate else f"{int(samples)} samples"


def _edits(step: Step) -> str | None:
    edits = step.params["edits"][step.index]
    if not edits:
        return "no change"
    shown = []
    for e in edits[:6]:
        old, new = e.old.strip(), e.new.strip()
        shown.append(f"+{new}" if not old else (f"-{old}" if not new else f"{old}→{new}"))
    more = f" (+{len(edits) - 6} more)" if len(edits) > 6 else ""
    return ", ".join(shown) + more


def _span(step: Step) -> str:
    start, end = step.params["spans"][step.index]
    text = step.batch[step.index]
    before, kept = len(text[:start].split()), len(text[start:end].split())
    return f"kept words {before + 1}-{before + kept} of {len(text.split())}"


def _overlapping_crops(step: Step) -> str:
    o = int(_own(step, "offset"))
    p = {k: int(step.params[k]) for k in ("crop_left", "crop_right", "crop_eleft", "crop_eright")}
    first = f"crop 1 steps {o + p['crop_eleft']}-{o + p['crop_right'] - 1}"
    second = f"crop 2 steps {o + p['crop_left']}-{o + p['crop_eright'] - 1}"
    return f"{first}, {second} (overlap {o + p['crop_left']}-{o + p['crop_right'] - 1})"


# graphs: node- and edge-level parameters of a PyG batch, cut to the example's graph
def _graph_nodes(step: Step) -> tuple[int, int]:
    ptr = step.batch.ptr
    return int(ptr[step.index]), int(ptr[step.index + 1])


def _nodes_where(step: Step, mask: Tensor) -> list[int]:
    lo, hi = _graph_nodes(step)
    return mask[lo:hi].cpu().nonzero().flatten().tolist()


def _list(nodes: Sequence[object], limit: int = 12) -> str:
    shown = ", ".join(map(str, nodes[:limit]))
    return shown + (f" (+{len(nodes) - limit})" if len(nodes) > limit else "")


def _dropped_nodes(step: Step) -> str:
    dropped = _nodes_where(step, ~step.params["node_keep"])
    return f"dropped nodes {_list(dropped)}" if dropped else "dropped no node"


def _walk_nodes(step: Step) -> str:
    lo, hi = _graph_nodes(step)
    dropped = _nodes_where(step, ~step.params["node_keep"])
    start = int(step.params["start"][step.index]) - lo
    return (
        f"walk from node {start} kept {hi - lo - len(dropped)} of {hi - lo} nodes, dropped {_list(dropped)}"
    )


def graph_edges(step: Step) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``(removed, added)`` edges of the example's graph, as node pairs numbered within that graph."""
    lo, hi = _graph_nodes(step)
    ei = step.batch.edge_index.cpu()
    removed: list[tuple[int, int]] = []
    if "edge_removed" in step.params:
        mine = (ei[0] >= lo) & (ei[0] < hi) & step.params["edge_removed"].cpu()
        removed = [(a - lo, b - lo) for a, b in ei[:, mine].t().tolist()]
    added: list[tuple[int, int]] = []
    if "added_edges" in step.params:
        new = step.params["added_edges"].cpu()
        mine = (new[0] >= lo) & (new[0] < hi)
        added = [(a - lo, b - lo) for a, b in new[:, mine].t().tolist()]
    return removed, added


def _edges(step: Step) -> str:
    removed, added = graph_edges(step)
    undirected = {tuple(sorted(e)) for e in removed}, {tuple(sorted(e)) for e in added}
    parts = []
    if "edge_removed" in step.params:
        parts.append(f"removed {_list(['-'.join(map(str, e)) for e in sorted(undirected[0])], 6)}")
    if "added_edges" in step.params:
        parts.append(f"added {_list(['-'.join(map(str, e)) for e in sorted(undirected[1])], 6)}")
    return "; ".join(parts) if any(undirected) else "no edge changed"


def _masked(step: Step) -> str:
    mask = step.params["mask"]
    if mask.dim() == 1:  # whole nodes
        return f"masked the features of nodes {_list(_nodes_where(step, mask))}"
    if mask.shape[0] == batch_len(step.batch):  # columns per graph
        return f"masked feature columns {_list(mask[step.index].nonzero().flatten().tolist())}"
    lo, hi = _graph_nodes(step)
    return f"masked {int(mask[lo:hi].sum())} feature entries"


FORMATTERS: dict[str, Callable[[Step], str | None]] = {
    "RandomResizedCrop": _crop_boxes,
    "RandomAffine": _affine,
    "ColorJitter": _jitter,
    "HorizontalFlip": _flag("flip", "flipped"),
    "Grayscale": _flag("applied", "grey"),
    "Solarize": _flag("applied", "solarized"),
    "GaussianBlur": _blur,
    "GaussianNoise": lambda s: f"std {_f(_own(s, 'std'), 3)}",
    "PitchShift": lambda s: f"{float(_own(s, 'semitones')):+.1f} semitones",
    "TimeStretch": lambda s: f"rate x{_f(_own(s, 'rate'))}",
    "TimeShift": lambda s: f"shift {_seconds(s, _own(s, 'shift'))}",
    "RandomCropPad": lambda s: f"from {_seconds(s, _own(s, 'offset'))}",
    "Gain": lambda s: f"{float(_own(s, 'db')):+.1f} dB",
    "PolarityInversion": _flag("flip", "polarity inverted"),
    "AddNoise": lambda s: f"noise at SNR {_f(_own(s, 'snr_db'), 1)} dB",
    "LowPass": lambda s: f"cutoff {_f(_own(s, 'cutoff_hz'), 0)} Hz",
    "HighPass": lambda s: f"cutoff {_f(_own(s, 'cutoff_hz'), 0)} Hz",
    "SynonymSwap": _edits,
    "RandomInsertion": _edits,
    "RandomSwap": _edits,
    "RandomDeletion": _edits,
    "WordDropout": _edits,
    "SpanCrop": _span,
    "OverlappingCrops": _overlapping_crops,
    "DropNodes": _dropped_nodes,
    "RandomWalkSubgraph": _walk_nodes,
    "KHopSubgraph": lambda s: f"kept nodes {_list(_nodes_where(s, s.params['node_keep']))}",
    "DropEdges": _edges,
    "AddEdges": _edges,
    "PerturbEdges": _edges,
    "MaskFeatures": _masked,
    "Lambda": lambda s: None,
    "Normalize": lambda s: None,
}
"""Formatter of each view class (by class name): ``Step -> text`` (``None``: nothing worth a line)."""
