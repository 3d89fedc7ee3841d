"""Views made by the model, not the data: dropout noise (SimCSE) and weight perturbation (SimGRACE).

A data view changes the input; a *model view* changes how the encoder computes the features of one view.
Both kinds compose: ``synonym+dropout`` swaps synonyms in the data and runs each view through the encoder
with its own dropout masks. A method applies its model views in :meth:`pairs.methods.Method.encode`,
one per view position (``None`` where the plain encoder is used), so every method that encodes through
the base class takes them, in every domain whose encoder they apply to.

* :class:`Dropout` sets the rate of every dropout layer of the encoder for the pass and runs it with
  those layers active (the rest of the encoder, e.g. batch norm, keeps its mode). Two views of the same
  input then differ only by their dropout masks: SimCSE's unsupervised objective (Gao et al. 2021, 82.5
  STS-B dev with dropout against 77.4 with synonym replacement and 77.8 with crops).
* :class:`WeightPerturbation` encodes the view with a perturbed copy of the encoder's weights,
  ``theta' = theta + eta * std(theta_l) * N(0, 1)`` per parameter tensor ``l`` (SimGRACE, Xia et al.
  2022): the copy is not trained (its output is a constant for the optimizer) and its batch-norm running
  statistics are not written back.

Every draw comes from an explicit :class:`torch.Generator`: the dropout masks by running the pass under
:func:`torch.random.fork_rng` seeded from it, so the same generator gives the same masks and the program's
global random state is left as it was.

Spec strings (``pairs train --views``): ``dropout`` / ``dropout:0.1`` (every view, rate 0.1 by default,
SimCSE's), ``perturb`` / ``perturb:1.0`` (the first view, ``eta = 1.0`` by default, SimGRACE's; the first
so that GraphCL's one-directional loss takes the perturbed view as its anchor, as SimGRACE's
``loss_cal(x2, x1)`` does). They follow a data view name after ``+``: ``synonym+dropout:0.1``,
``identity+perturb``; alone they mean the unchanged data (``--views dropout``).

References:
    Gao, Yao, Chen. "SimCSE: Simple Contrastive Learning of Sentence Embeddings", EMNLP 2021.
    Xia, Wu, Chen, Hu, Li. "SimGRACE: A Simple Framework for Graph Contrastive Learning without Data
    Augmentation", WWW 2022.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pairs.errors import ConfigError
from pairs.frozen import device_of
from pairs.validation import finite_float, probability
from pairs.views.base import derive_seed

__all__ = [
    "Dropout",
    "ModelView",
    "WeightPerturbation",
    "model_view_names",
    "parse_model_views",
    "split_view_spec",
]


class ModelView:
    """Base class of model views: encode one view with a changed encoder.

    Subclasses implement :meth:`encode`. ``positions`` says which views of a sample it applies to by
    default (``"all"``, or a tuple of view indices).
    """

    positions: str | tuple[int, ...] = "all"

    def encode(self, encoder: nn.Module, batch: Any, generator: torch.Generator) -> Tensor:
        """Features of ``batch`` through the changed encoder.

        Args:
            encoder: the method's encoder (its parameters are not modified).
            batch: one view of a batch, as the encoder takes it.
            generator: the source of every random draw of this pass.

        Returns:
            The encoder's output for ``batch`` (e.g. ``(B, D)`` features).
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


@contextlib.contextmanager
def seeded_default_generator(generator: torch.Generator) -> Iterator[None]:
    """Seed the default generator of ``generator``'s device from it for the block, then restore it.

    Layers that draw from torch's default generator (``nn.Dropout``, attention dropout) then draw from
    the explicit generator's stream, and the program's global random state is left as it was.
    """
    device = generator.device
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda, device_type="cuda"):
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=device).item())
        if cuda:
            torch.cuda.default_generators[device.index or 0].manual_seed(seed)
        else:
            torch.default_generator.manual_seed(seed)
        yield


class Dropout(ModelView):
    """SimCSE's view: the encoder's own dropout layers, active at rate ``p``, with fresh masks per pass.

    Args:
        p: dropout rate in ``[0, 1)`` for every ``nn.Dropout*`` layer and the attention dropout of every
            ``nn.MultiheadAttention`` of the encoder during the pass (SimCSE: 0.1, BERT's own rate).

    Raises:
        ConfigError: ``p`` outside ``[0, 1)``, or (on use) an encoder without any dropout layer (the
            message says how to add one).
    """

    def __init__(self, p: float = 0.1) -> None:
        self.p = probability("p (the dropout rate)", p, owner="dropout view", high_open=True)

    def encode(self, encoder: nn.Module, batch: Any, generator: torch.Generator) -> Tensor:
        layers = [m for m in encoder.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
        attention = [m for m in encoder.modules() if isinstance(m, nn.MultiheadAttention)]
        if not layers and not attention:
            raise ConfigError(
                f"the dropout view needs dropout layers in the encoder, and {type(encoder).__name__} has "
                "none; use an encoder with dropout (e.g. the text encoders, or add nn.Dropout to your "
                "own) or a data view"
            )
        saved = [(m, m.p, m.training) for m in layers]
        saved_attention = [(a, a.dropout, a.training) for a in attention]
        try:
            for m in layers:
                m.p = self.p
                m.train(True)
            for a in attention:
                a.dropout = self.p
                a.train(True)
            with seeded_default_generator(generator):  # the masks: from our generator
                return encoder(batch)
        finally:
            for m, p, training in saved:
                m.p = p
                m.train(training)
            for a, p, training in saved_attention:
                a.dropout = p
                a.train(training)


class WeightPerturbation(ModelView):
    """SimGRACE's view: the encoder with Gaussian noise added to its weights, scaled per tensor.

    Every floating-point parameter tensor ``theta_l`` of the encoder gets ``eta * std(theta_l) * eps``,
    ``eps ~ N(0, 1)`` drawn from the generator (``std`` over the whole tensor, population form, so a
    tensor of one value or of equal values is left unchanged). The pass uses
    :func:`torch.func.functional_call` with the perturbed tensors and copies of the buffers, so the
    encoder itself, its batch-norm running statistics and its gradients are untouched; the output is
    detached (as in SimGRACE, where the perturbed copy is a separate model that is not optimized).

    Args:
        eta: noise magnitude ``> 0`` relative to each tensor's spread (SimGRACE: 1.0 on the TU sets).

    Raises:
        ConfigError: ``eta`` not a positive finite number.
    """

    positions = (0,)

    def __init__(self, eta: float = 1.0) -> None:
        self.eta = finite_float("eta", eta, minimum=0, strict=True, owner="perturb view")

    def perturbed_parameters(self, encoder: nn.Module, generator: torch.Generator) -> dict[str, Tensor]:
        """The perturbed copy of every parameter (detached), by name.

        Shape:
            each value has its parameter's shape, dtype and device.
        """
        out: dict[str, Tensor] = {}
        for name, param in encoder.named_parameters():
            p = param.detach()
            if not p.is_floating_point() or p.numel() == 0:
                out[name] = p
                continue
            std = p.float().std(correction=0)
            noise = torch.randn(p.shape, generator=generator, device=generator.device, dtype=torch.float32)
            out[name] = (p.float() + self.eta * std * noise.to(p.device)).to(p.dtype)
        return out

    def encode(self, encoder: nn.Module, batch: Any, generator: torch.Generator) -> Tensor:
        from torch.func import functional_call

        tensors = self.perturbed_parameters(encoder, generator)
        tensors.update({name: b.clone() for name, b in encoder.named_buffers()})
        with torch.no_grad(), seeded_default_generator(generator):  # the encoder's own dropout, if any
            return functional_call(encoder, tensors, (batch,))


# called with the spec's number, or with no argument for the defaults
_FACTORIES: dict[str, Callable[..., ModelView]] = {"dropout": Dropout, "perturb": WeightPerturbation}


def model_view_names() -> list[str]:
    """The names a view spec may use for model views."""
    return sorted(_FACTORIES)


def split_view_spec(spec: str | None) -> tuple[str | None, str | None]:
    """Split ``"DATA+MODEL"`` into its data view name and model view spec.

    ``"synonym+dropout:0.1"`` -> ``("synonym", "dropout:0.1")``; ``"dropout"`` -> ``("identity",
    "dropout")``; ``"synonym"`` -> ``("synonym", None)``.
    """
    if spec is None:
        return None, None
    parts = spec.split("+")
    model = [p for p in parts if p.split(":", 1)[0] in _FACTORIES]
    data = [p for p in parts if p.split(":", 1)[0] not in _FACTORIES]
    if len(data) > 1:
        raise ConfigError(f"views {spec!r}: name one data view, got {' and '.join(data)}")
    if not model:
        return spec, None
    return (data[0] if data else "identity"), "+".join(model)


def parse_model_views(spec: str | None, n_views: int) -> list[ModelView | None] | None:
    """The model view of each of a sample's ``n_views`` views, from a spec like ``"perturb:1.0"``.

    Several model views may be joined with ``+`` when they apply to different view positions.

    Returns:
        A list of length ``n_views`` (``None`` where the plain encoder is used), or ``None`` for no spec.

    Raises:
        ConfigError: unknown names, values that are not numbers, or two model views for one position.
    """
    if spec is None or spec == "":
        return None
    out: list[ModelView | None] = [None] * n_views
    for part in spec.split("+"):
        name, _, value = part.partition(":")
        if name not in _FACTORIES:
            raise ConfigError(f"unknown model view {name!r}; known: {', '.join(model_view_names())}")
        try:
            view = _FACTORIES[name](float(value)) if value else _FACTORIES[name]()
        except ValueError:
            raise ConfigError(f"model view {part!r}: {value!r} is not a number") from None
        positions = range(n_views) if isinstance(view.positions, str) else view.positions  # "all"
        for i in positions:
            if i >= n_views:
                continue
            if out[i] is not None:
                raise ConfigError(f"model views {spec!r}: two model views for view {i + 1}")
            out[i] = view
    return out


def encode_with(
    encoder: nn.Module,
    views: Sequence[Any],
    model_views: Sequence[ModelView | None],
    seed: int,
    plain: Callable[[list[Any]], list[Tensor]],
) -> list[Tensor]:
    """Encode ``views``, those with a model view through it and the rest through ``plain`` (one call).

    Args:
        encoder: the encoder.
        views: the views of a batch.
        model_views: one entry per view position (``None``: plain encoder).
        seed: the seed of this step's draws (view ``i`` draws from ``derive_seed(seed, i)``).
        plain: encodes a list of views with the plain encoder (e.g. concatenated in one call).

    Returns:
        One feature tensor per view, in order.
    """
    out: list[Tensor | None] = [None] * len(views)
    rest = [i for i in range(len(views)) if i >= len(model_views) or model_views[i] is None]
    for i, f in zip(rest, plain([views[i] for i in rest]) if rest else [], strict=True):
        out[i] = f
    for i, view in enumerate(model_views[: len(views)]):
        if view is not None:
            device = device_of(encoder) or torch.device("cpu")
            generator = torch.Generator(device=device).manual_seed(derive_seed(seed, i))
            out[i] = view.encode(encoder, views[i], generator)
    return [f for f in out if f is not None]
