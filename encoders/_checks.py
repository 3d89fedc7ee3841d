"""Input checks shared by the encoders: a floating-point, channels-first batch of the declared channels."""

from __future__ import annotations

from torch import Tensor

__all__ = ["check_channels_first"]


def check_channels_first(x: object, in_channels: int, owner: str, what: str, layout: str) -> Tensor:
    """Check that ``x`` is a floating-point batch laid out as ``layout`` with ``in_channels`` channels.

    Args:
        x: the encoder's input.
        in_channels: the channels the encoder was built for (dimension 1).
        owner: the encoder, for the messages.
        what: what the batch holds, for the messages (``"images"``, ``"series"``).
        layout: the expected layout, batch first and channels second (``"(B, C, H, W)"``, ``"(B, C, T)"``);
            its number of entries is the expected number of dimensions.

    Returns:
        ``x`` unchanged.

    Raises:
        TypeError: ``x`` is not a tensor, or not floating point.
        ValueError: another number of dimensions (one fewer: the message says to add a batch dimension) or
            of channels (the message says which ``in_channels`` to build with).

    Shape:
        ``layout``, e.g. ``(B, C, H, W)``.
    """
    ndim = layout.count(",") + 1
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner} expects a torch.Tensor batch of {what} {layout}, got {type(x).__name__}")
    if x.dim() != ndim:
        hint = " (add a batch dimension with x.unsqueeze(0))" if x.dim() == ndim - 1 else ""
        raise ValueError(f"{owner} expects a batch of {what} {layout}, got shape {tuple(x.shape)}{hint}")
    if x.shape[1] != in_channels:
        raise ValueError(
            f"{owner} was built for in_channels={in_channels} but got {x.shape[1]} channels (input shape "
            f"{tuple(x.shape)}, expected {layout}); build it with in_channels={x.shape[1]}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{owner} expects floating-point {what}, got {x.dtype}; convert with x.float()")
    return x
