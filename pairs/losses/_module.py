"""The base of the losses' thin ``nn.Module`` wrappers: hyper-parameters held once, passed on by name."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn


class LossModule(nn.Module):
    """A module form of a loss function: it holds the validated hyper-parameters, passes them to the
    function by keyword (:meth:`_loss_kwargs`) and shows them in its ``repr``.

    Subclasses list the attribute names in ``_kwarg_names`` (passed to the function) and, where the
    ``repr`` shows other ones, in ``_repr_names``.
    """

    _kwarg_names: ClassVar[tuple[str, ...]] = ()
    _repr_names: ClassVar[tuple[str, ...] | None] = None

    def _loss_kwargs(self) -> dict[str, Any]:
        """``{name: value}`` of the hyper-parameters the loss function takes."""
        return {name: getattr(self, name) for name in self._kwarg_names}

    def extra_repr(self) -> str:
        names = self._kwarg_names if self._repr_names is None else self._repr_names
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
