"""Image encoders: a small CNN for tiny images and torchvision ResNet-18 backbones.

* :class:`SmallCNN` ("small_cnn"): four 3x3 conv blocks with max-pool downsampling while the feature
  map allows it and global average pooling; sized for sklearn digits (8x8) and MNIST (28x28).
* :func:`resnet18_cifar` ("resnet18_cifar"): torchvision's ResNet-18 with the 3x3 stride-1 stem and no
  max-pool, as in SimCLR's CIFAR-10 experiments (Chen et al. 2020, appendix B.9) and in lightly and
  solo-learn; 512-d features.
* :func:`resnet18` ("resnet18"): the standard ImageNet ResNet-18 (He et al. 2016) stem, for larger images.

Every encoder has an int attribute ``out_dim`` and maps ``(B, C, H, W)`` to ``(B, out_dim)``. Parameters
are initialised from torch's default generator, as for any ``nn.Module``: call ``torch.manual_seed``
before building an encoder for reproducible weights.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, ResNet

from encoders._checks import check_channels_first
from encoders.registry import register
from pairs.validation import positive_int

__all__ = ["SmallCNN", "ResNetEncoder", "resnet18_cifar", "resnet18"]

_NORMS = ("batch", "group", "none")


def _check_image_batch(x: object, in_channels: int, owner: str, min_size: int = 1) -> Tensor:
    x = check_channels_first(x, in_channels, owner, "images", "(B, C, H, W)")
    if x.shape[2] < min_size or x.shape[3] < min_size:
        raise ValueError(
            f"{owner} needs images of at least {min_size}x{min_size}, got {x.shape[2]}x{x.shape[3]}; "
            "upsample or pad the inputs"
        )
    return x


def _norm_layer(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "group":
        return nn.GroupNorm(math.gcd(32, channels), channels)
    return nn.Identity()


# Downsample (2x2 max-pool) before a block only when the map is at least this large, so the last
# blocks of an 8x8 input still see a 4x4 map.
_MIN_SIZE_TO_POOL = 8


def _pool_plan(height: int, width: int, n_blocks: int) -> list[bool]:
    """Whether to max-pool before each block after the first, for an input of ``height x width``."""
    plan, size = [], min(height, width)
    for _ in range(n_blocks - 1):
        pool = size >= _MIN_SIZE_TO_POOL
        plan.append(pool)
        size = size // 2 if pool else size
    return plan


@register(
    "small_cnn", domain="image", description="4-block 3x3 CNN for small images (digits 8x8, MNIST 28x28)"
)
class SmallCNN(nn.Module):
    """A small CNN for small images: 4 blocks of (3x3 conv, norm, ReLU), then global average pooling.

    Channels grow as ``width, 2*width, 4*width, 4*width``. Before blocks 2-4 the map is halved by a 2x2
    max-pool while its smaller side is at least 8, so an 8x8 digit is pooled once (8 -> 4), a 28x28 MNIST
    image twice (28 -> 14 -> 7) and a 32x32 image three times (down to 4x4). On the CPU, colour batches run
    in the channels-last layout (NHWC), where oneDNN's kernels are fastest; the features are the same up to
    float rounding.

    Args:
        in_channels: number of input channels (1 for digits/MNIST).
        width: channels of the first block; the pooled feature has ``4 * width`` dimensions.
        out_dim: if given, a final ``nn.Linear(4 * width, out_dim)`` maps the pooled feature to this size.
        image_size: if given (an int or ``(H, W)``), the pooling schedule is fixed at construction for that
            size, so the network is static (friendlier to ``torch.compile`` and export); inputs of other
            sizes (>= 8) still work. If ``None``, the schedule follows each input's size.
        norm: ``"batch"`` (BatchNorm2d), ``"group"`` (GroupNorm with ``gcd(32, C)`` groups; independent
            of the batch, useful when BatchNorm statistics would differ per distributed rank) or ``"none"``.

    Attributes:
        out_dim: the feature size (``4 * width`` or the given ``out_dim``).

    Raises:
        ValueError: on a non-positive size, an ``image_size`` below 8, or an unknown ``norm``.

    Shape:
        ``(B, in_channels, H, W)`` with ``H, W >= 8`` -> ``(B, out_dim)``.
    """

    n_blocks = 4

    def __init__(
        self,
        in_channels: int = 1,
        width: int = 64,
        out_dim: int | None = None,
        image_size: int | tuple[int, int] | None = None,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_channels = positive_int("in_channels", in_channels, owner=owner)
        self.width = positive_int("width", width, owner=owner)
        if norm not in _NORMS:
            raise ValueError(f"{owner}: norm must be one of {_NORMS}, got {norm!r}")
        self.norm = norm
        self.image_size = self._check_image_size(image_size)
        self._plan = None if self.image_size is None else _pool_plan(*self.image_size, self.n_blocks)

        channels = [self.width, 2 * self.width, 4 * self.width, 4 * self.width]
        blocks, c_in = [], self.in_channels
        for c_out in channels:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c_out, 3, padding=1, bias=norm == "none"),
                    _norm_layer(norm, c_out),
                    nn.ReLU(inplace=True),
                )
            )
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)
        feature_dim = channels[-1]
        if out_dim is None:
            self.fc: nn.Module = nn.Identity()
            self.out_dim = feature_dim
        else:
            self.out_dim = positive_int("out_dim", out_dim, owner=owner)
            self.fc = nn.Linear(feature_dim, self.out_dim)
        self._init_weights()

    @staticmethod
    def _check_image_size(image_size: object) -> tuple[int, int] | None:
        if image_size is None:
            return None
        if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
            size = (int(image_size), int(image_size))
        elif (
            isinstance(image_size, (tuple, list))
            and len(image_size) == 2
            and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in image_size)
        ):
            size = (int(image_size[0]), int(image_size[1]))
        else:
            raise ValueError(f"SmallCNN: image_size must be None, an int or (H, W), got {image_size!r}")
        if min(size) < _MIN_SIZE_TO_POOL:
            raise ValueError(f"SmallCNN: image_size must be at least 8x8, got {size}")
        return size

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Encode a batch of images.

        Args:
            x: images ``(B, in_channels, H, W)``, ``H, W >= 8``.

        Returns:
            Features ``(B, out_dim)``.

        Raises:
            TypeError: if ``x`` is not a floating-point tensor.
            ValueError: on a wrong rank, channel count or an image smaller than 8x8.
        """
        _check_image_batch(x, self.in_channels, type(self).__name__, min_size=_MIN_SIZE_TO_POOL)
        plan = self._plan if self._plan is not None else _pool_plan(x.shape[2], x.shape[3], self.n_blocks)
        if x.device.type == "cpu":
            # oneDNN's convolutions, batch norm and max-pool run about 1.6x faster on NHWC ("channels last")
            # than on NCHW CPU tensors; a 1-channel batch is the same either way (kept NCHW)
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.blocks[0](x)
        for pool, block in zip(plan, self.blocks[1:], strict=True):
            if pool:
                x = self.pool(x)
            x = block(x)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, width={self.width}, out_dim={self.out_dim}, "
            f"image_size={self.image_size}, norm={self.norm!r}"
        )


class ResNetEncoder(ResNet):
    """torchvision's ResNet-18 as a feature extractor: ``fc`` is ``nn.Identity`` and ``out_dim = 512``.

    A subclass rather than a wrapper, so the ``state_dict`` keys are torchvision's (``conv1.weight``,
    ``layer1.0.bn1.weight``, ...).

    Args:
        in_channels: number of input channels.
        cifar_stem: if True, the stem is a 3x3 stride-1 conv with no max-pool (for 32x32 images, as in
            SimCLR's CIFAR experiments); if False, torchvision's 7x7 stride-2 conv and 3x3 max-pool.
        zero_init_residual: start each residual branch's last BN at zero (Goyal et al. 2017), so every
            block starts as the identity.

    Attributes:
        out_dim: 512.

    Shape:
        ``(B, in_channels, H, W)`` -> ``(B, 512)``.
    """

    def __init__(
        self, in_channels: int = 3, cifar_stem: bool = True, zero_init_residual: bool = False
    ) -> None:
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=1, zero_init_residual=bool(zero_init_residual))
        self.in_channels = positive_int("in_channels", in_channels, owner=type(self).__name__)
        self.cifar_stem = bool(cifar_stem)
        if self.cifar_stem:
            self.conv1 = nn.Conv2d(self.in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        elif self.in_channels != 3:
            self.conv1 = nn.Conv2d(self.in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.fc = nn.Identity()
        self.out_dim = 512

    def forward(self, x: Tensor) -> Tensor:
        """Encode a batch of images ``(B, in_channels, H, W)`` into ``(B, 512)`` features.

        Raises:
            TypeError: if ``x`` is not a floating-point tensor.
            ValueError: on a wrong rank or channel count.
        """
        _check_image_batch(x, self.in_channels, type(self).__name__)
        return self._forward_impl(x)


@register(
    "resnet18_cifar",
    domain="image",
    description="ResNet-18 with 3x3 stride-1 stem, no max-pool (CIFAR-size images), 512-d",
)
def resnet18_cifar(in_channels: int = 3, zero_init_residual: bool = False) -> ResNetEncoder:
    """ResNet-18 for CIFAR-size images (SimCLR, Chen et al. 2020; lightly; solo-learn): 512-d features.

    The stem is a 3x3 stride-1 convolution without max-pool, the classifier is removed; about 11.17M
    parameters.

    Args:
        in_channels: number of input channels.
        zero_init_residual: zero-initialise the last BN of each residual branch.

    Returns:
        A :class:`ResNetEncoder` with ``out_dim == 512``.

    Shape:
        ``(B, in_channels, H, W)`` -> ``(B, 512)``.
    """
    return ResNetEncoder(in_channels=in_channels, cifar_stem=True, zero_init_residual=zero_init_residual)


@register(
    "resnet18", domain="image", description="ResNet-18 with the standard ImageNet stem (larger images), 512-d"
)
def resnet18(in_channels: int = 3, zero_init_residual: bool = False) -> ResNetEncoder:
    """Standard ResNet-18 (He et al. 2016; 7x7 stride-2 stem and max-pool) without its classifier.

    Args, returns and shape: as :func:`resnet18_cifar`.
    """
    return ResNetEncoder(in_channels=in_channels, cifar_stem=False, zero_init_residual=zero_init_residual)
