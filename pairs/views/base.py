"""The view contract: sample random parameters for a whole batch, then apply them deterministically.

Every view in ``pairs`` follows the shape of torchvision's transforms v2 (``_get_params`` /
``_transform``), kornia's ``generate_parameters`` / ``apply_transform`` and audiomentations'
``randomize_parameters`` / ``apply``:

* :meth:`View.sample` draws the random parameters for a *batch* from an explicit
  :class:`torch.Generator` (each element gets its own draw);
* :meth:`View.apply` applies given parameters deterministically, so a view can be replayed;
* :meth:`View.__call__` does both, on one sample or on a batch, and can return the parameters.

Domain modules tell the base class what "a batch" is for their data through three single-dispatch
functions, :func:`batch_len`, :func:`take` and :func:`combine` (tensors and lists are registered here;
the graph module registers PyG batches). Composition views (:class:`Compose`, :class:`RandomApply`,
:class:`OneOf`) only use those three, so they work for every domain.

Example:
    >>> import torch
    >>> from pairs.views import image
    >>> view = image.simclr_view(size=8)
    >>> out, params = view(torch.rand(4, 1, 8, 8), generator=0, return_params=True)
    >>> same = view.replay(torch.rand(4, 1, 8, 8), params)  # same crops, flips, jitter factors
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from functools import singledispatch
from typing import Any

import torch
from torch import Tensor

from pairs.errors import DataError
from pairs.validation import HALF_DTYPES, probability

Params = dict[str, Any]
"""Parameters drawn by a view: a dict whose tensor values have the batch as their first dimension."""

GeneratorLike = torch.Generator | int | None
"""An explicit ``torch.Generator``, an ``int`` seed, or ``None`` for torch's default generator."""


# --------------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------------
def make_generator(generator: GeneratorLike = None, device: torch.device | str = "cpu") -> torch.Generator:
    """Turn a seed, a generator or ``None`` into a :class:`torch.Generator`.

    Args:
        generator: a ``torch.Generator`` (returned as is), an ``int`` seed (a new generator on ``device``
            seeded with it) or ``None`` (torch's global default generator, which ``torch.manual_seed``
            seeds; reproducible, but shared with the rest of the program).
        device: device of a generator made from a seed.

    Returns:
        The generator to draw from.

    Raises:
        TypeError: if ``generator`` is none of the above.
    """
    if generator is None:
        return torch.default_generator
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        g = torch.Generator(device=device)
        g.manual_seed(int(generator))
        return g
    raise TypeError(
        f"generator must be a torch.Generator, an int seed or None, got {type(generator).__name__}"
    )


def derive_seed(*keys: int) -> int:
    """Mix integers (seed, epoch, step, index, ...) into one 63-bit seed, deterministically.

    Used to give every (epoch, step) or (epoch, sample) its own reproducible generator, so a resumed
    run draws exactly the views an unbroken run would have drawn, with no generator state to save.
    """
    h = 0x9E3779B97F4A7C15
    for k in keys:
        h ^= (int(k) + 0x9E3779B97F4A7C15 + ((h << 6) & 0xFFFFFFFFFFFFFFFF) + (h >> 2)) & 0xFFFFFFFFFFFFFFFF
        h = (h * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


def uniform(
    low: float | Tensor, high: float | Tensor, n: int, generator: torch.Generator, dtype=torch.float32
) -> Tensor:
    """``n`` draws from U[low, high) on the generator's device (shape ``(n,)``)."""
    u = torch.rand(n, generator=generator, device=generator.device, dtype=dtype)
    return low + (high - low) * u


def bernoulli(p: float, n: int, generator: torch.Generator) -> Tensor:
    """``n`` boolean draws, each ``True`` with probability ``p`` (shape ``(n,)``)."""
    return torch.rand(n, generator=generator, device=generator.device) < p


# --------------------------------------------------------------------------------------------------
# Numerics shared by every domain: one rule for half precision, finite input, finite output
# --------------------------------------------------------------------------------------------------
HALF_TYPES = HALF_DTYPES
"""The half-precision dtypes (:data:`pairs.validation.HALF_DTYPES`); views compute them in float32 and
return the input dtype."""


def work_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a view computes in for inputs of ``dtype``: float32 for float16/bfloat16 (several CPU
    kernels, the FFT among them, lack half precision, and squares overflow float16 above ~256), the
    dtype itself otherwise. Views cast their result back to the input dtype."""
    return torch.float32 if dtype in HALF_TYPES else dtype


def all_finite(x: Tensor) -> bool:
    """Whether ``x`` has no NaN/inf: a cheap sum first (NaN/inf propagate), the exact check if it fails
    (the sum also overflows on huge finite values)."""
    if x.numel() == 0:
        return True
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    if bool(torch.isfinite(x.sum(dtype=acc))):
        return True
    return bool(torch.isfinite(x).all())


def check_finite(x: Tensor, name: str, *, allow_nan: bool = False, what: str = "values") -> Tensor:
    """Refuse +-inf (and NaN unless ``allow_nan``, e.g. series where NaN marks a missing timestamp).

    Args:
        x: a floating-point tensor.
        name: the caller named in the message.
        allow_nan: accept NaN entries (only inf is refused).
        what: what the entries are, for the message (``"samples"``, ``"pixels"``, ...).

    Returns:
        ``x`` unchanged.

    Raises:
        DataError: on inf (or NaN) entries; the message counts them.
    """
    if not x.is_floating_point() or all_finite(x):
        return x
    n_inf = int(torch.isinf(x).sum())
    n_nan = 0 if allow_nan else int(torch.isnan(x).sum())
    if n_inf or n_nan:
        kinds = " and ".join(k for k, n in ((f"{n_nan} NaN", n_nan), (f"{n_inf} infinite", n_inf)) if n)
        fix = "replace them by NaN (missing) or finite values" if allow_nan else "clean them first"
        note = " (NaN marks a missing value)" if allow_nan else ""
        raise DataError(
            f"{name} got {kinds} {what}; expected finite {what}{note}: {fix}, e.g. with torch.nan_to_num"
        )
    return x


@singledispatch
def float_values(batch: Any) -> list[Tensor]:
    """The floating-point tensors of a batch whose values a view computes (checked for overflow)."""
    return []


@float_values.register
def _(batch: Tensor) -> list[Tensor]:
    return [batch] if batch.is_floating_point() else []


@float_values.register
def _(batch: tuple) -> list[Tensor]:
    return [t for item in batch for t in float_values(item)]


def check_output_finite(name: str, inputs: Any, outputs: Any, *, writes_nan: bool = False) -> None:
    """Raise a clear error when a view made NaN/inf from input that had none (overflow of the dtype).

    Input NaN may stay NaN (series mark missing values with it), input inf may stay inf, and a view that
    writes NaN on purpose (``writes_nan``: NaN padding of a shortened series) may add NaN; anything else
    non-finite in the output means the values were too large for the dtype.

    Raises:
        DataError: naming the view, the input's largest magnitude and the dtype's range.
    """
    outs = float_values(outputs)
    if all(all_finite(t) for t in outs):
        return
    ins = float_values(inputs)
    in_nan = any(bool(torch.isnan(t).any()) for t in ins)
    in_inf = any(bool(torch.isinf(t).any()) for t in ins)
    out_nan = any(bool(torch.isnan(t).any()) for t in outs)
    out_inf = any(bool(torch.isinf(t).any()) for t in outs)
    if (out_inf and not in_inf) or (out_nan and not (in_nan or in_inf or writes_nan)):
        dtype = next(t.dtype for t in outs if not all_finite(t))
        peak = max(
            (float(torch.nan_to_num(t.detach().float().abs(), nan=0.0).max()) for t in ins if t.numel()),
            default=0.0,
        )
        raise DataError(
            f"{name}: the output overflowed {dtype} (input magnitude up to {peak:.3g}; {dtype} holds values "
            f"up to {torch.finfo(dtype).max:.3g}); scale the input down (e.g. standardise it) or use a wider "
            "dtype (float32 or float64)"
        )


# --------------------------------------------------------------------------------------------------
# What "a batch" is, per domain (single dispatch on the batch type)
# --------------------------------------------------------------------------------------------------
@singledispatch
def batch_len(batch: Any) -> int:
    """Number of examples in a batch."""
    raise TypeError(
        f"views do not know how to batch a {type(batch).__name__}; expected a torch.Tensor with the "
        "batch as first dimension, a list of samples, or a domain batch type (e.g. a PyG Batch)"
    )


@batch_len.register
def _(batch: Tensor) -> int:
    return int(batch.shape[0])


@batch_len.register
def _(batch: list) -> int:
    return len(batch)


@singledispatch
def take(batch: Any, index: Tensor) -> Any:
    """The sub-batch at ``index`` (a 1-D long tensor of positions), in that order."""
    raise TypeError(f"views do not know how to index a {type(batch).__name__}")


@take.register
def _(batch: Tensor, index: Tensor) -> Tensor:
    return batch.index_select(0, index.to(batch.device))


@take.register
def _(batch: list, index: Tensor) -> list:
    return [batch[i] for i in index.tolist()]


@singledispatch
def combine(first: Any, parts: Sequence[tuple[Tensor, Any]], size: int) -> Any:
    """Put sub-batches back in order: ``parts`` is ``[(index, sub_batch), ...]`` covering ``0..size-1``.

    Dispatches on the type of the first non-empty sub-batch (``first``).
    """
    raise TypeError(f"views do not know how to combine a {type(first).__name__}")


@combine.register
def _(first: Tensor, parts: Sequence[tuple[Tensor, Any]], size: int) -> Tensor:
    shapes = {tuple(p.shape[1:]) for i, p in parts if len(i)}
    if len(shapes) > 1:
        raise ValueError(
            "cannot combine views whose outputs have different shapes "
            f"{sorted(shapes)}; a view inside RandomApply/OneOf must keep the sample shape "
            "(put size-changing views such as crops outside RandomApply/OneOf)"
        )
    out = first.new_empty((size, *first.shape[1:]))
    for index, part in parts:
        if len(index):
            out[index.to(out.device)] = part
    return out


@combine.register
def _(first: list, parts: Sequence[tuple[Tensor, Any]], size: int) -> list:
    out: list[Any] = [None] * size
    for index, part in parts:
        for i, item in zip(index.tolist(), part, strict=True):
            out[i] = item
    return out


def take_params(params: Any, index: Tensor, size: int) -> Any:
    """Index every per-example entry of a parameter structure (tensors/lists whose length is ``size``)."""
    if isinstance(params, Tensor) and params.dim() > 0 and params.shape[0] == size:
        return params.index_select(0, index.to(params.device))
    if isinstance(params, Mapping):
        return {k: take_params(v, index, size) for k, v in params.items()}
    if isinstance(params, list) and len(params) == size:
        return [params[i] for i in index.tolist()]
    return params


# --------------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------------
class View:
    """Base class of all views.

    Subclasses implement :meth:`sample` and :meth:`apply` on batches, and set :attr:`sample_ndim` (the
    rank of one tensor sample, e.g. 3 for an image ``(C, H, W)``) or override :meth:`to_batch` for
    non-tensor samples. A view keeps its constructor arguments as attributes of the same name so that
    ``repr`` shows them.
    """

    sample_ndim: int | None = None
    writes_nan: bool = False
    """Whether the view writes NaN on purpose (e.g. NaN padding that marks missing timestamps); any other
    NaN/inf made from finite input is an overflow and raises :class:`~pairs.errors.DataError`."""

    # -- to implement -------------------------------------------------------------------------------
    def sample(self, batch: Any, generator: torch.Generator) -> Params:
        """Draw this view's random parameters for every example of ``batch``.

        Args:
            batch: a batch of inputs (used for its size, shape, device and dtype only).
            generator: the source of all randomness.

        Returns:
            A dict of per-example parameters (first dimension = batch size).
        """
        raise NotImplementedError

    def apply(self, batch: Any, params: Params) -> Any:
        """Apply given parameters to ``batch``, deterministically (no randomness here)."""
        raise NotImplementedError

    # -- provided -----------------------------------------------------------------------------------
    def forward(self, batch: Any, generator: torch.Generator) -> tuple[Any, Params]:
        """Sample and apply on a batch; returns ``(views, params)``. Composite views override this."""
        params = self.sample(batch, generator)
        return self.apply(batch, params), params

    def to_batch(self, x: Any) -> tuple[Any, bool]:
        """Return ``(batch, was_single)``: a lone sample is wrapped into a batch of one."""
        if isinstance(x, Tensor) and self.sample_ndim is not None:
            if x.dim() == self.sample_ndim:
                return x.unsqueeze(0), True
            if x.dim() == self.sample_ndim + 1:
                return x, False
            raise ValueError(
                f"{type(self).__name__} expects one sample of rank {self.sample_ndim} or a batch of rank "
                f"{self.sample_ndim + 1}, got a tensor of shape {tuple(x.shape)}"
            )
        return x, False

    def from_batch(self, batch: Any, was_single: bool) -> Any:
        """Undo :meth:`to_batch`."""
        if not was_single:
            return batch
        return batch[0]

    def __call__(
        self, x: Any, generator: GeneratorLike = None, *, return_params: bool = False
    ) -> Any | tuple[Any, Params]:
        """Make views of one sample or of a batch (each example gets its own random draw).

        Args:
            x: one sample or a batch.
            generator: a ``torch.Generator``, an int seed, or ``None`` (torch's default generator).
            return_params: also return the parameters that were drawn (see :meth:`replay`).

        Returns:
            The views, shaped like ``x``; with ``return_params``, ``(views, params)``.
        """
        batch, single = self.to_batch(x)
        if batch_len(batch) == 0:
            raise DataError(f"{type(self).__name__} got an empty batch; expected at least one example")
        out, params = self.forward(batch, make_generator(generator))
        check_output_finite(type(self).__name__, batch, out, writes_nan=self.writes_nan)
        out = self.from_batch(out, single)
        return (out, params) if return_params else out

    def replay(self, x: Any, params: Params) -> Any:
        """Apply parameters returned by an earlier call (``return_params=True``) to ``x``."""
        batch, single = self.to_batch(x)
        out = self.apply(batch, params)
        check_output_finite(type(self).__name__, batch, out, writes_nan=self.writes_nan)
        return self.from_batch(out, single)

    def __repr__(self) -> str:
        args = []
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if hasattr(self, name):
                args.append(f"{name}={getattr(self, name)!r}")
        return f"{type(self).__name__}({', '.join(args)})"


class Lambda(View):
    """A deterministic function as a view (no parameters), e.g. a normalisation or a type conversion."""

    def __init__(self, fn: Callable[[Any], Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "fn")

    def sample(self, batch: Any, generator: torch.Generator) -> Params:
        return {}

    def apply(self, batch: Any, params: Params) -> Any:
        return self.fn(batch)

    def __repr__(self) -> str:
        return f"Lambda({self.name})"


def check_replay_size(name: str, n_params: int, n_batch: int) -> None:
    """The check every :meth:`View.apply` makes: parameters drawn for ``n_params`` examples replay only on
    a batch of ``n_params`` examples.

    Args:
        name: the view named in the message (its class name).
        n_params: how many examples the parameters were drawn for (their first dimension).
        n_batch: how many examples the batch has.

    Raises:
        ValueError: the two differ.
    """
    if n_params != n_batch:
        raise ValueError(
            f"{name}: parameters were drawn for {n_params} examples but the batch has {n_batch}; replay "
            "needs a batch of the same size as the one the parameters were drawn for"
        )


def _check_view(v: Any, where: str) -> View:
    if not isinstance(v, View):
        raise TypeError(f"{where} expects View objects, got {type(v).__name__}")
    return v


def _inner_name(view: View) -> str:
    """A view's class name, looking through RandomApply / OneOf wrappers (``RandomApply(PitchShift)``)."""
    if isinstance(view, RandomApply):
        return f"RandomApply({_inner_name(view.view)})"
    if isinstance(view, OneOf):
        return f"OneOf({', '.join(_inner_name(v) for v in view.views)})"
    return type(view).__name__


class _ViewGroup(View):
    """A view made of several views (:class:`Compose`, :class:`OneOf`): the batch format is the first
    view's, and it may write NaN where any of them may.

    Subclasses set ``self.views`` (a non-empty list of views) in ``__init__``.
    """

    views: list[View]

    @property
    def sample_ndim(self) -> int | None:  # type: ignore[override]
        return self.views[0].sample_ndim

    @property
    def writes_nan(self) -> bool:  # type: ignore[override]
        return any(v.writes_nan for v in self.views)

    def to_batch(self, x: Any) -> tuple[Any, bool]:
        return self.views[0].to_batch(x)

    def from_batch(self, batch: Any, was_single: bool) -> Any:
        return self.views[0].from_batch(batch, was_single)


class Compose(_ViewGroup):
    """Apply views one after another; parameters are the list of each view's parameters.

    Args:
        views: the views, applied in order.
    """

    def __init__(self, views: Sequence[View]) -> None:
        if isinstance(views, View):
            views = [views]
        self.views = [_check_view(v, "Compose") for v in views]
        if not self.views:
            raise ValueError("Compose needs at least one view")

    def forward(self, batch: Any, generator: torch.Generator) -> tuple[Any, Params]:
        params = []
        for view in self.views:
            out, p = view.forward(batch, generator)
            check_output_finite(
                _inner_name(view), batch, out, writes_nan=view.writes_nan
            )  # name the view that overflowed
            batch = out
            params.append(p)
        return batch, {"views": params}

    def apply(self, batch: Any, params: Params) -> Any:
        if len(params["views"]) != len(self.views):
            raise ValueError(
                f"Compose has {len(self.views)} views but got parameters for {len(params['views'])}; "
                "replay needs the parameters returned by this Compose"
            )
        for view, p in zip(self.views, params["views"], strict=True):
            out = view.apply(batch, p)
            check_output_finite(_inner_name(view), batch, out, writes_nan=view.writes_nan)
            batch = out
        return batch

    def __repr__(self) -> str:
        inner = "".join(f"\n  {v!r}," for v in self.views)
        return f"Compose([{inner}\n])"


class RandomApply(View):
    """Apply ``view`` to each example with probability ``p`` (an independent coin per example).

    Args:
        view: the view to apply; it must keep the sample shape.
        p: probability in [0, 1].
    """

    def __init__(self, view: View, p: float = 0.5) -> None:
        self.view = _check_view(view, "RandomApply")
        self.p = probability("p", p, owner="RandomApply")

    @property
    def sample_ndim(self) -> int | None:  # type: ignore[override]
        return self.view.sample_ndim

    @property
    def writes_nan(self) -> bool:  # type: ignore[override]
        return self.view.writes_nan

    def to_batch(self, x: Any) -> tuple[Any, bool]:
        return self.view.to_batch(x)

    def from_batch(self, batch: Any, was_single: bool) -> Any:
        return self.view.from_batch(batch, was_single)

    def forward(self, batch: Any, generator: torch.Generator) -> tuple[Any, Params]:
        n = batch_len(batch)
        applied = bernoulli(self.p, n, generator).cpu()
        index = applied.nonzero().flatten()
        if len(index) == 0:
            return batch, {"applied": applied, "params": None}
        if len(index) == n:
            out, inner = self.view.forward(batch, generator)
            return out, {"applied": applied, "params": inner}
        out_sub, inner = self.view.forward(take(batch, index), generator)
        return self._merge(batch, applied, out_sub), {"applied": applied, "params": inner}

    def apply(self, batch: Any, params: Params) -> Any:
        applied = params["applied"].cpu()
        check_replay_size(type(self).__name__, len(applied), batch_len(batch))
        index = applied.nonzero().flatten()
        if len(index) == 0:
            return batch
        if len(index) == batch_len(batch):
            return self.view.apply(batch, params["params"])
        return self._merge(batch, applied, self.view.apply(take(batch, index), params["params"]))

    @staticmethod
    def _merge(batch: Any, applied: Tensor, out_sub: Any) -> Any:
        index = applied.nonzero().flatten()
        rest = (~applied).nonzero().flatten()
        return combine(out_sub, [(index, out_sub), (rest, take(batch, rest))], len(applied))

    def __repr__(self) -> str:
        return f"RandomApply({self.view!r}, p={self.p})"


class OneOf(_ViewGroup):
    """Apply one of ``views`` to each example, chosen per example with probabilities ``weights``.

    Args:
        views: the candidate views; they must produce outputs of the same shape.
        weights: relative weights (default uniform).
    """

    def __init__(self, views: Sequence[View], weights: Sequence[float] | None = None) -> None:
        self.views = [_check_view(v, "OneOf") for v in views]
        if not self.views:
            raise ValueError("OneOf needs at least one view")
        w = [1.0] * len(self.views) if weights is None else [float(x) for x in weights]
        if len(w) != len(self.views):
            raise ValueError(f"OneOf got {len(self.views)} views but {len(w)} weights")
        if any(x < 0 for x in w) or sum(w) <= 0:
            raise ValueError(f"OneOf weights must be non-negative with a positive sum, got {w}")
        self.weights = w

    def forward(self, batch: Any, generator: torch.Generator) -> tuple[Any, Params]:
        n = batch_len(batch)
        probs = torch.tensor(self.weights, dtype=torch.float64, device=generator.device)
        choice = torch.multinomial(probs, n, replacement=True, generator=generator).cpu()
        parts: list[tuple[Tensor, Any]] = []
        inner: list[Params | None] = []
        for k, view in enumerate(self.views):
            index = (choice == k).nonzero().flatten()
            if len(index) == 0:
                inner.append(None)
                continue
            out, p = view.forward(take(batch, index), generator)
            parts.append((index, out))
            inner.append(p)
        return self._combine(parts, n), {"choice": choice, "params": inner}

    def apply(self, batch: Any, params: Params) -> Any:
        choice = params["choice"].cpu()
        check_replay_size(type(self).__name__, len(choice), batch_len(batch))
        parts = []
        for k, view in enumerate(self.views):
            index = (choice == k).nonzero().flatten()
            if len(index):
                parts.append((index, view.apply(take(batch, index), params["params"][k])))
        return self._combine(parts, len(choice))

    @staticmethod
    def _combine(parts: list[tuple[Tensor, Any]], n: int) -> Any:
        if len(parts) == 1:
            return parts[0][1]
        return combine(parts[0][1], parts, n)

    def __repr__(self) -> str:
        inner = ", ".join(repr(v) for v in self.views)
        return f"OneOf([{inner}], weights={self.weights})"


def multi_view(
    view: View | Sequence[View], batch: Any, n_views: int, generator: GeneratorLike = None
) -> list:
    """Make ``n_views`` independent views of a batch.

    Args:
        view: one view used for every copy, or a sequence of ``n_views`` views (asymmetric recipes such as
            BYOL's two different pipelines).
        batch: the batch.
        n_views: number of views per example.
        generator: source of randomness.

    Returns:
        A list of ``n_views`` batches.
    """
    g = make_generator(generator)
    views = list(view) if isinstance(view, Sequence) else [view] * n_views
    if len(views) != n_views:
        raise ValueError(f"got {len(views)} views for n_views={n_views}; give one view or exactly n_views")
    return [v(batch, g) for v in views]
