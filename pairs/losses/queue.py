"""A fixed-size ring buffer of negative keys (MoCo's queue), optionally with their labels.

The queue lives in buffers, so it moves with ``.to(device)`` and is saved in the ``state_dict``:
a checkpoint taken mid-training resumes with the same negatives.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pairs.losses._checks import check_embeddings
from pairs.losses.distributed import all_gather_no_grad
from pairs.validation import positive_int


class NegativeQueue(nn.Module):
    """MoCo's queue of negative keys: the ``size`` most recent keys, overwritten oldest-first.

    Args:
        size: capacity ``K`` (e.g. 4096 or 65536), ``>= 1``.
        dim: key dimension ``D``.
        store_labels: also keep an integer label per key (SupCon with a queue: same-label keys are
            treated as positives by :func:`pairs.losses.info_nce`).
        gather_distributed: under torch.distributed, :meth:`enqueue` first gathers the keys (and
            labels) of all ranks, as MoCo's ``concat_all_gather`` does, so every rank holds the same
            queue.
        dtype: dtype of the stored keys (float32 by default).

    Buffers:
        ``keys`` ``(K, D)``, ``labels`` ``(K,)`` (``-1`` where unused or when labels are not stored),
        ``ptr`` (next slot to write, 0-d long), ``filled`` (number of valid keys, 0-d long).

    Raises:
        ValueError: if ``size`` or ``dim`` is not a positive int.

    References:
        He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation Learning" (MoCo),
        arXiv:1911.05722.
    """

    keys: Tensor
    labels: Tensor
    ptr: Tensor
    filled: Tensor

    def __init__(
        self,
        size: int,
        dim: int,
        store_labels: bool = False,
        *,
        gather_distributed: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        size = positive_int("size", size, owner="NegativeQueue")
        dim = positive_int("dim", dim, owner="NegativeQueue")
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")
        self.size = size
        self.dim = dim
        self.store_labels = bool(store_labels)
        self.gather_distributed = bool(gather_distributed)
        self.register_buffer("keys", torch.zeros(size, dim, dtype=dtype))
        self.register_buffer("labels", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.filled)

    @torch.no_grad()
    def enqueue(self, keys: Tensor, labels: Tensor | None = None) -> None:
        """Write ``keys`` (detached) after the newest entry, wrapping around; keep only the newest ``size``.

        A batch larger than the queue keeps its last ``size`` rows. The pointer moves by the number of
        keys given (after the distributed gather, if enabled).

        Args:
            keys: keys to add, ``(n, D)``.
            labels: integer labels ``(n,)``; required iff ``store_labels``.

        Raises:
            TypeError, ValueError: wrong shapes/dtypes, NaN keys, labels missing or unexpected.

        Shape:
            keys ``(n, D)``, labels ``(n,)``.
        """
        keys = check_embeddings(keys, "keys", 2)
        if keys.shape[1] != self.dim:
            raise ValueError(f"keys must be (n, {self.dim}) to match the queue dim, got {tuple(keys.shape)}")
        if self.store_labels:
            if labels is None:
                raise ValueError("this queue stores labels (store_labels=True): pass labels (n,) to enqueue")
            if not isinstance(labels, Tensor) or labels.is_floating_point() or labels.shape != keys.shape[:1]:
                raise ValueError(
                    f"labels must be an integer tensor of shape ({keys.shape[0]},), got "
                    f"{getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}"
                )
        elif labels is not None:
            raise ValueError("labels given, but the queue was built with store_labels=False")
        keys = keys.detach()
        if self.gather_distributed:
            keys = all_gather_no_grad(keys)
            if labels is not None:
                labels = all_gather_no_grad(labels.to(keys.device))
        n = keys.shape[0]
        ptr = int(self.ptr)
        if n > self.size:  # only the newest `size` survive; they land where a sequential write would put them
            ptr = (ptr + n - self.size) % self.size
            keys = keys[-self.size :]
            labels = labels[-self.size :] if labels is not None else None
        m = keys.shape[0]
        idx = (ptr + torch.arange(m, device=self.keys.device)) % self.size
        self.keys[idx] = keys.to(device=self.keys.device, dtype=self.keys.dtype)
        if labels is not None:
            self.labels[idx] = labels.to(device=self.labels.device, dtype=torch.long)
        self.ptr.fill_((ptr + m) % self.size)
        self.filled.fill_(min(int(self.filled) + n, self.size))

    def get(self) -> tuple[Tensor, Tensor | None]:
        """The valid keys (and labels when stored), in storage order.

        Returns:
            ``(keys, labels)`` with ``keys`` ``(filled, D)`` and ``labels`` ``(filled,)`` or ``None``.
            They are copies, so a later :meth:`enqueue` does not change tensors that an autograd graph
            still holds.
        """
        n = int(self.filled)
        return self.keys[:n].clone(), (self.labels[:n].clone() if self.store_labels else None)

    @torch.no_grad()
    def reset(self) -> None:
        """Empty the queue."""
        self.keys.zero_()
        self.labels.fill_(-1)
        self.ptr.zero_()
        self.filled.zero_()

    def extra_repr(self) -> str:
        return (
            f"size={self.size}, dim={self.dim}, store_labels={self.store_labels}, filled={int(self.filled)}"
        )
