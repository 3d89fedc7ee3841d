"""What the trainer needs from a method: an ``nn.Module`` whose forward turns a batch of views into a loss.

A method owns an ``encoder`` (the backbone that evaluation uses) plus whatever else its objective needs
(heads, a momentum target, a queue, prototypes, a centre). Everything stateful is a parameter or a buffer,
so it lives in the ``state_dict`` and survives checkpoint/resume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from encoders.heads import ProjectionHead
from pairs.pairing import ViewBatch


@dataclass(eq=False)
class MethodOutput(Mapping[str, Any]):
    """What :meth:`Method.forward` returns: the loss, the embeddings for the collapse monitor, logged figures.

    It reads as a mapping too, as the dict methods returned before: ``out["loss"]``, ``out["embeddings"]``,
    ``out["queue_fill"]``, ``out.get(...)``, ``dict(out)``; its keys are ``"loss"``, ``"embeddings"`` (when
    given) and those of ``logs``, in that order.

    Attributes:
        loss: the scalar loss the trainer back-propagates.
        embeddings: ``(B', D)`` embeddings of the batch for the collapse monitor (detached is fine), or
            ``None``.
        logs: other scalar figures to log (python numbers or 0-d tensors), e.g. ``{"queue_fill": 512.0}``.
    """

    loss: Tensor
    embeddings: Tensor | None = None
    logs: dict[str, Any] = field(default_factory=dict)

    def _as_dict(self) -> dict[str, Any]:
        head = (
            {"loss": self.loss}
            if self.embeddings is None
            else {"loss": self.loss, "embeddings": self.embeddings}
        )
        return {**head, **self.logs}

    def __getitem__(self, key: str) -> Any:
        return self._as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._as_dict())

    def __len__(self) -> int:
        return len(self._as_dict())


class Method(nn.Module):
    """Base class of training methods.

    Subclasses implement :meth:`forward`, returning a :class:`MethodOutput` (the loss, the embeddings for
    the collapse monitor, and other scalar figures, which are logged).

    Attributes:
        encoder: the backbone whose features are evaluated.
        n_views: how many views per sample the method consumes.
        needs_labels: whether the method trains on labels (SupCon, Siamese, triplet).
        center_collapse_check: the collapse monitor measures the embeddings' spread around their batch
            mean (for embeddings with a large common offset by design, e.g. TS2Vec's max pooling).
        default_views: the name of the domain view recipe the method is meant for (DINO: ``"multicrop"``,
            CPC: ``"cpc_window"``), used by ``pairs train`` when the domain has it and no ``--views`` is
            given; ``None``: the domain's default.
    """

    n_views: int = 2
    needs_labels: bool = False
    center_collapse_check: bool = False
    default_views: str | None = None

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"a method needs an nn.Module encoder, got {type(encoder).__name__}")
        self.encoder = encoder

    supports_model_views: bool = True
    """Whether :meth:`forward` encodes through :meth:`encode` (so model views apply)."""
    model_views: list[Any] | None = None
    """One :class:`pairs.views.model.ModelView` (or ``None``) per view position, set with
    :meth:`set_model_views`; ``None`` (the default): every view goes through the plain encoder."""

    def forward(self, batch: ViewBatch) -> MethodOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def training_report(self) -> dict[str, float]:
        """Figures the method adds to the report of a finished training run (``pairs train``'s JSON).

        Empty by default; CPC reports its mean per-step accuracy over the last batches (``acc_k1``, ...).
        """
        return {}

    @property
    def fine_tune_lr(self) -> float | None:
        """The learning rate the encoder declares for fine-tuning (a pretrained
        :class:`~pairs.protocols.FineTunedEncoder`), or ``None`` (train at the recipe's rate)."""
        from pairs.protocols import fine_tune_lr

        return fine_tune_lr(self.encoder)

    def set_model_views(self, spec: str | Sequence[Any] | None) -> Method:
        """Encode some views through model views (dropout, weight perturbation; :mod:`pairs.views.model`).

        Args:
            spec: a spec string (``"dropout:0.1"``, ``"perturb:1.0"``), a list with one model view or
                ``None`` per view position, or ``None`` to go back to the plain encoder.

        Returns:
            The method itself.

        Raises:
            ConfigError: an unknown spec, or a list of another length than the method's ``n_views``.
        """
        from pairs.errors import ConfigError
        from pairs.views.model import ModelView, parse_model_views

        if spec is not None and not self.supports_model_views:
            raise ConfigError(
                f"{type(self).__name__} encodes its views its own way and takes no model views "
                "(dropout, perturb); use a data view, or a method such as simclr, graphcl or byol"
            )
        if spec is None or isinstance(spec, str):
            self.model_views = parse_model_views(spec, self.n_views)
            return self
        views = list(spec)
        if len(views) != self.n_views or not all(v is None or isinstance(v, ModelView) for v in views):
            raise ConfigError(
                f"{type(self).__name__} takes {self.n_views} views per sample: give one ModelView or None "
                f"per view, got {views!r}"
            )
        self.model_views = views
        return self

    def encode(
        self, views: list[Any], plain: Callable[[list[Any]], list[Tensor]] | None = None
    ) -> list[Tensor]:
        """Encode the views of a batch with the method's encoder, through its model views where it has them.

        Args:
            views: the views of a batch.
            plain: how views without a model view are encoded (default: :func:`encode_views`, one call
                for views of one shape).

        Returns:
            One ``(B, D)`` feature tensor per view.
        """
        plain = plain or (lambda vs: encode_views(self.encoder, vs))
        if not self.model_views or not any(v is not None for v in self.model_views):
            return plain(views)
        from pairs.views.model import encode_with

        # one draw of the global generator (which the trainer seeds per epoch and restores on resume)
        seed = int(torch.randint(0, 2**62, (1,)).item())
        return encode_with(self.encoder, views, self.model_views, seed, plain)

    def on_after_optimizer_step(self, progress: float) -> None:
        """Called after every optimizer step with training progress in [0, 1] (momentum updates go here)."""

    @property
    def feature_dim(self) -> int:
        """Size of the encoder's features: its ``out_dim`` attribute, else found by one dry forward pass
        (:func:`infer_feature_dim`).

        Raises:
            ConfigError: when neither works (the message says how to declare it).
        """
        cached = self.__dict__.get("_feature_dim")
        if cached is None:
            cached = infer_feature_dim(self.encoder, owner=type(self).__name__)
            self.__dict__["_feature_dim"] = cached
        return cached

    def projection_head(
        self,
        out_dim: int,
        hidden_dim: int | None = None,
        n_layers: int = 2,
        last_bn: bool = False,
        in_dim: int | None = None,
    ) -> ProjectionHead:
        """A projection MLP on the encoder's features, the head most methods put on their encoder.

        Args:
            out_dim: the projection size (the method's ``projection_dim``).
            hidden_dim: width of the hidden layers; ``None``: :func:`projection_hidden_dim` of ``in_dim``.
            n_layers: linear layers (2: SimCLR / MoCo v2 / BYOL; 3: SimSiam, MoCo v3, Barlow Twins).
            last_bn: a ``BatchNorm1d`` without affine parameters after the last layer (SimSiam, MoCo v3).
            in_dim: size of the features it projects (default: the encoder's :attr:`feature_dim`).

        Returns:
            A new :class:`encoders.heads.ProjectionHead` (its weights drawn from torch's global generator).

        Shape:
            ``(B, in_dim)`` -> ``(B, out_dim)``.
        """
        d = self.feature_dim if in_dim is None else in_dim
        hidden = projection_hidden_dim(d, hidden_dim)
        return ProjectionHead(d, hidden_dim=hidden, out_dim=out_dim, n_layers=n_layers, last_bn=last_bn)


_DRY_SHAPES = {nn.Conv1d: (128,), nn.Conv2d: (64, 64), nn.Conv3d: (16, 32, 32)}


def infer_feature_dim(encoder: nn.Module, owner: str = "the method") -> int:
    """The size ``D`` of an encoder's ``(B, D)`` features.

    An ``out_dim`` attribute (an int) is used as it is. Otherwise one dry forward pass in eval mode without
    gradients (batch statistics untouched) on zeros shaped for the encoder's first layer: ``(2, C, 64, 64)``
    for a first ``Conv2d`` with ``C`` input channels (e.g. ``torchvision.models.resnet18(weights=None)``),
    ``(2, C, 128)`` for ``Conv1d``, ``(2, C, 16, 32, 32)`` for ``Conv3d``, ``(2, F)`` for ``Linear``.

    Raises:
        ConfigError: the encoder declares no ``out_dim`` and the dry pass is not possible (first layer of
            another kind, a forward that does not take one tensor) or does not give ``(B, D)`` features.
    """
    from pairs.errors import ConfigError

    dim = getattr(encoder, "out_dim", None)
    if dim is not None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"{type(encoder).__name__}.out_dim must be a positive int, got {dim!r}")
        return int(dim)
    name = type(encoder).__name__
    fix = (
        f"declare it: set encoder.out_dim = D (the size of its (B, D) features) before passing the "
        f"{name} to {owner}"
    )
    first = next(
        (m for m in encoder.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear))), None
    )
    if first is None:
        raise ConfigError(
            f"{owner} cannot tell the feature size of {name}: it has no out_dim attribute and no Conv/Linear "
            f"layer to shape a dry forward pass; {fix}"
        )
    param = next(encoder.parameters())
    if isinstance(first, nn.Linear):
        shape: tuple[int, ...] = (2, first.in_features)
    else:
        shape = (2, first.in_channels, *_DRY_SHAPES[type(first)])
    x = torch.zeros(shape, device=param.device, dtype=param.dtype)
    from pairs.frozen import frozen

    try:
        with frozen(encoder):
            out = encoder(x)
    except Exception as err:  # noqa: BLE001 - any failure of the dry pass means: declare out_dim
        raise ConfigError(
            f"{owner} cannot tell the feature size of {name}: it has no out_dim attribute and a dry forward "
            f"pass on zeros of shape {shape} failed ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:120]}); {fix}"
        ) from err
    if not isinstance(out, Tensor) or out.dim() != 2:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ConfigError(
            f"{owner} needs (B, D) features, but {name} returned {got} on a dry forward pass of shape "
            f"{shape}; pool or flatten its output (e.g. nn.Sequential(encoder, nn.Flatten())) and {fix}"
        )
    return int(out.shape[1])


def projection_hidden_dim(in_dim: int, hidden_dim: int | None = None) -> int:
    """Hidden size of a projection head: ``hidden_dim`` if given, else ``min(2048, max(512, 4 * in_dim))``.

    2048 is SimCLR's/BYOL's projector width for ResNet-50; small encoders get four times their feature size
    (at least 512).
    """
    return hidden_dim or min(2048, max(512, 4 * in_dim))


def encode_views(encoder: nn.Module, views: list[Any]) -> list[Tensor]:
    """Encode every view; tensor views of one shape go through the encoder in a single call.

    One call over the concatenated views is faster on small models, and it is what SimCLR does (batch-norm
    statistics over all views). Views of different shapes (multi-crop) or non-tensor views (graphs, text)
    are encoded one by one.

    Returns:
        A list of ``(B, D)`` feature tensors, one per view.
    """
    if all(isinstance(v, Tensor) for v in views) and len({tuple(v.shape) for v in views}) == 1:
        features = encoder(torch.cat(views))
        return list(features.chunk(len(views)))
    return [encoder(v) for v in views]
