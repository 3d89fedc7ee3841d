"""Projection and prediction heads (MLPs on top of an encoder's features).

* :class:`ProjectionHead` ("mlp_head"): SimCLR's projection MLP (Chen et al. 2020a) and its variants
  through arguments: ``n_layers=2`` is SimCLR / MoCo v2 / BYOL's projector (Grill et al. 2020);
  ``n_layers=3, last_bn=True`` is SimCLR v2 (Chen et al. 2020b) and SimSiam's projector (Chen & He 2021);
  ``n_layers=3, hidden_dim=out_dim=8192`` without last BN is Barlow Twins' projector (Zbontar et al. 2021).
* :class:`PredictionHead` ("prediction_head"): the BYOL / SimSiam predictor, Linear-BN-ReLU-Linear.

Both have an int attribute ``out_dim`` and map ``(B, in_dim)`` to ``(B, out_dim)``.
"""

from __future__ import annotations

from torch import Tensor, nn

from encoders.registry import register
from pairs.validation import positive_int

__all__ = ["ProjectionHead", "PredictionHead"]


def _check_features(x: object, in_dim: int, owner: str, module: nn.Module, has_bn: bool) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner} expects a torch.Tensor of shape (B, {in_dim}), got {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] != in_dim:
        raise ValueError(f"{owner} expects features of shape (B, {in_dim}), got {tuple(x.shape)}")
    if has_bn and module.training and x.shape[0] < 2:
        raise ValueError(
            f"{owner} uses BatchNorm, which needs at least 2 samples per batch in training mode, got "
            f"{x.shape[0]}; call .eval() for single samples or build the head with batch_norm=False"
        )
    return x


@register("mlp_head", domain="head", description="projection MLP (SimCLR/SimCLRv2/BYOL/Barlow-style)")
class ProjectionHead(nn.Module):
    """The projection MLP of SimCLR and its descendants.

    ``n_layers - 1`` hidden blocks of ``Linear(bias=not batch_norm) -> BatchNorm1d -> ReLU``, then a final
    ``Linear`` to ``out_dim``, optionally followed by a ``BatchNorm1d(affine=False)`` (``last_bn``, as in
    SimCLR v2, SimSiam and MoCo v3).

    Args:
        in_dim: input feature size (the encoder's ``out_dim``).
        hidden_dim: width of the hidden layers (ignored when ``n_layers == 1``).
        out_dim: output size.
        n_layers: number of linear layers (1 = a linear projection).
        batch_norm: BatchNorm1d after each hidden linear layer.
        last_bn: BatchNorm1d (no affine parameters) after the last linear layer.

    Attributes:
        out_dim: the output size.

    Raises:
        ValueError: on a non-positive size or layer count.

    Shape:
        ``(B, in_dim)`` -> ``(B, out_dim)``.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int = 2048,
        out_dim: int = 128,
        n_layers: int = 2,
        batch_norm: bool = True,
        last_bn: bool = False,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_dim = positive_int("in_dim", in_dim, owner=owner)
        self.hidden_dim = positive_int("hidden_dim", hidden_dim, owner=owner)
        self.out_dim = positive_int("out_dim", out_dim, owner=owner)
        self.n_layers = positive_int("n_layers", n_layers, owner=owner)
        self.batch_norm = bool(batch_norm)
        self.last_bn = bool(last_bn)
        layers: list[nn.Module] = []
        d = self.in_dim
        for _ in range(self.n_layers - 1):
            layers.append(nn.Linear(d, self.hidden_dim, bias=not self.batch_norm))
            if self.batch_norm:
                layers.append(nn.BatchNorm1d(self.hidden_dim))
            layers.append(nn.ReLU(inplace=True))
            d = self.hidden_dim
        layers.append(nn.Linear(d, self.out_dim, bias=not self.last_bn))
        if self.last_bn:
            layers.append(nn.BatchNorm1d(self.out_dim, affine=False))
        self.layers = nn.Sequential(*layers)
        self._has_bn = (self.batch_norm and self.n_layers > 1) or self.last_bn

    def forward(self, x: Tensor) -> Tensor:
        """Project features ``(B, in_dim)`` to ``(B, out_dim)``.

        Raises:
            TypeError: if ``x`` is not a tensor.
            ValueError: on a wrong shape, or a single sample in training mode with BatchNorm.
        """
        _check_features(x, self.in_dim, type(self).__name__, self, self._has_bn)
        return self.layers(x)

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, hidden_dim={self.hidden_dim}, out_dim={self.out_dim}, "
            f"n_layers={self.n_layers}, batch_norm={self.batch_norm}, last_bn={self.last_bn}"
        )


@register("prediction_head", domain="head", description="BYOL/SimSiam predictor: Linear-BN-ReLU-Linear")
class PredictionHead(nn.Module):
    """The predictor of BYOL (Grill et al. 2020) and SimSiam (Chen & He 2021).

    ``Linear(in_dim, hidden_dim, bias=False) -> BatchNorm1d -> ReLU -> Linear(hidden_dim, out_dim)``.
    BYOL uses ``hidden_dim=4096``; SimSiam a bottleneck, ``hidden_dim=512`` for ``in_dim=out_dim=2048``.

    Args:
        in_dim: input size (the projection's ``out_dim``).
        hidden_dim: hidden width.
        out_dim: output size; ``None`` means ``in_dim`` (the predictor maps back into the projection space).

    Attributes:
        out_dim: the output size.

    Raises:
        ValueError: on a non-positive size.

    Shape:
        ``(B, in_dim)`` -> ``(B, out_dim)``.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_dim = positive_int("in_dim", in_dim, owner=owner)
        self.hidden_dim = positive_int("hidden_dim", hidden_dim, owner=owner)
        self.out_dim = self.in_dim if out_dim is None else positive_int("out_dim", out_dim, owner=owner)
        self.layers = nn.Sequential(
            nn.Linear(self.in_dim, self.hidden_dim, bias=False),
            nn.BatchNorm1d(self.hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(self.hidden_dim, self.out_dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Predict ``(B, out_dim)`` from ``(B, in_dim)``.

        Raises:
            TypeError: if ``x`` is not a tensor.
            ValueError: on a wrong shape, or a single sample in training mode.
        """
        _check_features(x, self.in_dim, type(self).__name__, self, True)
        return self.layers(x)

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, hidden_dim={self.hidden_dim}, out_dim={self.out_dim}"
