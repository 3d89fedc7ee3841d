"""The conventions the library relies on, declared as :class:`typing.Protocol` s instead of guessed.

Code that takes "something like an encoder" or "a multi-view producer" checks against these, so a user's own
object only has to provide what is written here:

* :class:`Encoder`: a module mapping a batch to ``(B, out_dim)`` features and saying its ``out_dim``.
* :class:`FineTunedEncoder`: a pretrained encoder that names the learning rate it is fine-tuned with
  (``pairs train`` uses it unless ``--lr`` is given); e.g. :class:`encoders.text.MiniLM`.
* :class:`MultiViewProducer`: an object with ``multi_view = True`` whose call ``(batch, generator)`` returns
  every view of a batch at once (multi-crop, CLIP's paired modalities); :func:`is_multi_view` tells one.
* :data:`BatchMarker`: what a view's ``to_batch`` returns next to the batch so that ``from_batch`` gives the
  input's own form back (``bool`` for tensors; graph views also say which form of graphs came in).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeGuard, runtime_checkable

if TYPE_CHECKING:
    import torch
    from torch import Tensor

__all__ = ["BatchMarker", "Encoder", "FineTunedEncoder", "MultiViewProducer", "fine_tune_lr", "is_multi_view"]


@runtime_checkable
class Encoder(Protocol):
    """A backbone: ``(B, ...) batch -> (B, out_dim)`` features.

    Attributes:
        out_dim: the size of the features (a positive int).
    """

    out_dim: int

    def __call__(self, batch: Any) -> Tensor: ...


@runtime_checkable
class FineTunedEncoder(Protocol):
    """A pretrained encoder that names its own fine-tuning learning rate.

    Attributes:
        fine_tune_lr: the learning rate it is fine-tuned with (the domain recipe's rate is for training
            from scratch).
    """

    fine_tune_lr: float


@runtime_checkable
class MultiViewProducer(Protocol):
    """Makes every view of a batch in one call (multi-crop's global and local crops, CLIP's two modalities).

    Attributes:
        multi_view: ``True``; tells :func:`pairs.pairing.make_views` to call it once per batch instead of once
            per view.
    """

    multi_view: bool

    def __call__(self, batch: Any, generator: torch.Generator) -> list[Any]: ...


BatchMarker = bool | Literal["data", "list"] | tuple[Literal["networkx"], Any]
"""The second item of ``View.to_batch(x) -> (batch, marker)``, handed back to ``from_batch``: ``False`` (``x``
was a batch), ``True`` (one tensor sample, wrapped into a batch of one); graph views also answer ``"data"``
(one PyG ``Data``), ``"list"`` (a list of ``Data``) or ``("networkx", graph)`` (a networkx graph)."""


def is_multi_view(view: object) -> TypeGuard[MultiViewProducer]:
    """Whether ``view`` is a :class:`MultiViewProducer` (declares ``multi_view = True``)."""
    return bool(getattr(view, "multi_view", False))  # not isinstance(): this runs once per batch


def fine_tune_lr(encoder: object) -> float | None:
    """The fine-tuning learning rate ``encoder`` declares (:class:`FineTunedEncoder`), or ``None``."""
    if isinstance(encoder, FineTunedEncoder) and encoder.fine_tune_lr:
        return float(encoder.fine_tune_lr)
    return None
