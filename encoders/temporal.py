"""Time-series encoders: TS2Vec's dilated residual convolution encoder and a (bi)LSTM for comparison.

* :class:`DilatedConvEncoder` ("dilated_conv", alias "ts2vec"): TS2Vec's ``TSEncoder``: a per-timestamp
  linear projection, TS2Vec's binomial timestamp masking in latent space during training, and a stack
  of residual blocks of two "same"-padded dilated convolutions with GELU (dilation ``2**i``), ending
  in a block to ``out_dim``; dropout 0.1 on the representations. Gives a representation per timestamp
  ``(B, T, out_dim)`` and, max-pooled over time, one per series ``(B, out_dim)``.
* :class:`LSTMEncoder` ("lstm"): a stacked (bi)LSTM; per-timestamp outputs and, per series, the final
  hidden states of the last layer.

Inputs are ``(B, C, T)`` (the layout of :mod:`pairs.views.temporal`); both encoders transpose to
``(B, T, C)`` internally. NaN timestamps (UEA padding, missing values) are handled as in TS2Vec: a
timestamp where any channel is NaN gets zero input features. Parameters are initialised from torch's
default generator (call ``torch.manual_seed`` first for reproducible weights); the training mask is
drawn from an explicit generator when one is passed.

References:
    Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series" (AAAI), section 3.1 and
    the reference code ``models/encoder.py`` and ``models/dilated_conv.py``.
    Hochreiter & Schmidhuber 1997, "Long Short-Term Memory".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from encoders._checks import check_channels_first
from encoders.registry import register
from pairs.validation import integer, positive_int, probability

__all__ = ["DilatedConvEncoder", "LSTMEncoder", "SamePadConv", "ConvBlock"]


def _check_series_batch(x: object, in_channels: int, owner: str) -> Tensor:
    x = check_channels_first(x, in_channels, owner, "series", "(B, C, T)")
    if x.shape[2] == 0:
        raise ValueError(f"{owner} got series with no timestamps, shape {tuple(x.shape)}")
    return x


class _SeriesEncoder(nn.Module):
    """What the series encoders share: ``in_channels`` and a width ``hidden``, checked, and the input check.

    Args:
        in_channels: channels ``C`` of the input series.
        hidden: the encoder's hidden width.

    Raises:
        SettingError: a size that is not an integer (also a ``TypeError``).
        ConfigError: a size below 1 (also a ``ValueError``).
    """

    def __init__(self, in_channels: int, hidden: int) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_channels = positive_int("in_channels", in_channels, owner=owner)
        self.hidden = positive_int("hidden", hidden, owner=owner)

    def _check_input(self, x: object) -> Tensor:
        """``x`` checked as a batch of series ``(B, C, T)`` with the encoder's ``in_channels``."""
        return _check_series_batch(x, self.in_channels, type(self).__name__)


def _observed(x: Tensor) -> tuple[Tensor, Tensor]:
    """``(B, T, C)`` input with NaN timestamps zeroed, and the ``(B, T)`` mask of complete timestamps.

    As TS2Vec: a timestamp is kept only when no channel is NaN there (``~x.isnan().any(-1)``).
    """
    nan = torch.isnan(x).any(dim=-1)
    return x.masked_fill(nan.unsqueeze(-1), 0.0), ~nan


class SamePadConv(nn.Module):
    """A 1-D convolution whose output has the input's length (TS2Vec's ``SamePadConv``).

    Pads ``receptive_field // 2`` on both sides and drops the last output when the receptive field is even.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: kernel size.
        dilation: dilation.

    Shape:
        ``(B, in_channels, T) -> (B, out_channels, T)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__()
        self.receptive_field = (kernel_size - 1) * dilation + 1
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, padding=self.receptive_field // 2, dilation=dilation
        )
        self.remove = 1 if self.receptive_field % 2 == 0 else 0

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return out[:, :, : -self.remove] if self.remove else out


class ConvBlock(nn.Module):
    """TS2Vec's residual block: ``x + conv2(gelu(conv1(gelu(x))))``, with a 1x1 projection on the residual
    when the width changes or for the final block.

    Shape:
        ``(B, in_channels, T) -> (B, out_channels, T)``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int, final: bool = False
    ) -> None:
        super().__init__()
        self.conv1 = SamePadConv(in_channels, out_channels, kernel_size, dilation=dilation)
        self.conv2 = SamePadConv(out_channels, out_channels, kernel_size, dilation=dilation)
        self.projector = (
            nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels or final else None
        )

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.projector is None else self.projector(x)
        x = self.conv2(F.gelu(self.conv1(F.gelu(x))))
        return x + residual


@register(
    "dilated_conv",
    domain="temporal",
    description="TS2Vec dilated residual 1-D conv encoder; per-timestamp and max-pooled series features",
)
class DilatedConvEncoder(_SeriesEncoder):
    """TS2Vec's encoder: input projection, latent timestamp masking, dilated residual convolutions.

    ``depth`` residual blocks of width ``hidden`` with dilations ``1, 2, ..., 2**(depth-1)`` and a final
    block (dilation ``2**depth``) to ``out_dim``, as TS2Vec's ``TSEncoder``. In training mode with
    ``mask_mode="binomial"``, each timestamp's projected features are zeroed with probability
    ``mask_p`` (TS2Vec's ``generate_binomial_mask``); in eval mode nothing is masked. Timestamps with a NaN
    in any channel are zeroed before and after the projection, as in TS2Vec.

    Args:
        in_channels: channels ``C`` of the input series (1 for univariate series).
        hidden: width of the hidden blocks (TS2Vec's ``hidden_dims``).
        out_dim: representation size (TS2Vec's ``output_dims``).
        depth: number of hidden residual blocks.
        kernel_size: convolution kernel size.
        mask_mode: ``"binomial"`` (mask during training) or ``None`` (never mask).
        mask_p: probability that a timestamp is masked in training (TS2Vec: 0.5).
        dropout: dropout on the representations (TS2Vec: 0.1).

    Raises:
        ValueError: on bad arguments or inputs (wrong rank or channel count).
        TypeError: on non-tensor or integer inputs.

    Shape:
        ``(B, C, T) -> (B, out_dim)`` (``pooled=True``) or ``(B, T, out_dim)`` (``pooled=False``).

    Reference:
        Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series".

    Example:
        >>> net = DilatedConvEncoder(in_channels=3, depth=2).eval()
        >>> net(torch.randn(4, 3, 50)).shape, net(torch.randn(4, 3, 50), pooled=False).shape
        (torch.Size([4, 320]), torch.Size([4, 50, 320]))
    """

    # declared for the type checker (without them mypy reports their types as undeterminable)
    depth: int
    kernel_size: int
    mask_mode: str | None
    mask_p: float
    input_fc: nn.Linear
    feature_extractor: nn.Sequential
    repr_dropout: nn.Dropout

    def __init__(
        self,
        in_channels: int = 1,
        hidden: int = 64,
        out_dim: int = 320,
        depth: int = 10,
        kernel_size: int = 3,
        mask_mode: str | None = "binomial",
        mask_p: float = 0.5,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(in_channels, hidden)
        owner = "DilatedConvEncoder"
        self.out_dim = positive_int("out_dim", out_dim, owner=owner)
        self.depth = integer("depth", depth, owner=owner)
        self.kernel_size = positive_int("kernel_size", kernel_size, owner=owner)
        if mask_mode not in ("binomial", None):
            raise ValueError(f"{owner}: mask_mode must be 'binomial' or None, got {mask_mode!r}")
        self.mask_mode = mask_mode
        self.mask_p = probability("mask_p", mask_p, owner=owner, high_open=True)
        dropout = probability("dropout", dropout, owner=owner, high_open=True)

        self.input_fc = nn.Linear(in_channels, hidden)
        widths = [hidden] * self.depth + [out_dim]
        self.feature_extractor = nn.Sequential(
            *[
                ConvBlock(
                    widths[i - 1] if i > 0 else hidden,
                    widths[i],
                    kernel_size=kernel_size,
                    dilation=2**i,
                    final=i == len(widths) - 1,
                )
                for i in range(len(widths))
            ]
        )
        self.repr_dropout = nn.Dropout(p=float(dropout))

    @property
    def receptive_field(self) -> int:
        """Number of input timestamps that can influence one output timestamp.

        Each block has two convolutions of receptive field ``(kernel_size - 1) * 2**i + 1``.
        """
        return 1 + sum(2 * (self.kernel_size - 1) * 2**i for i in range(self.depth + 1))

    def forward(
        self,
        x: Tensor,
        pooled: bool = True,
        mask: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Encode a batch of series.

        Args:
            x: ``(B, C, T)`` series; NaN marks missing timestamps or padding.
            pooled: return one vector per series (max over time, see :meth:`pool`) instead of one per
                timestamp. Padding timestamps (NaN in every channel) are left out of the max; TS2Vec pools
                every timestamp, which is the same for series without padding.
            mask: optional ``(B, T)`` bool mask, ``True`` = keep; overrides the training mask.
            generator: source of the binomial training mask (default: torch's default generator).

        Returns:
            ``(B, out_dim)`` when ``pooled``, else ``(B, T, out_dim)``.
        """
        self._check_input(x)
        seq = x.transpose(1, 2)  # (B, T, C)
        h, observed = _observed(seq)  # NaN timestamps zeroed; (B, T) complete timestamps
        h = self.input_fc(h)  # (B, T, hidden)
        if mask is None:
            if self.training and self.mask_mode == "binomial" and self.mask_p > 0:
                if generator is None:
                    draw = torch.rand(h.shape[:2], device=h.device)
                else:
                    draw = torch.rand(h.shape[:2], generator=generator, device=generator.device).to(h.device)
                mask = draw >= self.mask_p  # True = keep, as TS2Vec's binomial mask
            else:
                mask = observed
        else:
            if mask.shape != h.shape[:2] or mask.dtype != torch.bool:
                raise ValueError(
                    f"DilatedConvEncoder mask must be a bool tensor of shape (B, T) = {tuple(h.shape[:2])}, "
                    f"got {mask.dtype} {tuple(mask.shape)}"
                )
            mask = mask.to(h.device)
        h = h.masked_fill(~(mask & observed).unsqueeze(-1), 0.0)
        h = self.feature_extractor(h.transpose(1, 2))  # (B, out_dim, T)
        reps = self.repr_dropout(h).transpose(1, 2)  # (B, T, out_dim)
        if not pooled:
            return reps
        return self.pool(reps, ~torch.isnan(seq).all(dim=-1))  # leave padding (all-NaN timestamps) out

    @staticmethod
    def pool(reps: Tensor, valid: Tensor | None = None) -> Tensor:
        """Max-pool per-timestamp representations over time (TS2Vec's instance representation).

        Args:
            reps: ``(B, T, D)`` representations.
            valid: optional ``(B, T)`` bool mask; only ``True`` timestamps are pooled (timestamps of NaN
                padding are left out). Rows with no valid timestamp pool over all timestamps.

        Returns:
            ``(B, D)``.
        """
        if reps.dim() != 3:
            raise ValueError(f"pool expects representations (B, T, D), got shape {tuple(reps.shape)}")
        if valid is None:
            return reps.amax(dim=1)
        valid = valid.to(reps.device)
        valid = valid | ~valid.any(dim=1, keepdim=True)
        return reps.masked_fill(~valid.unsqueeze(-1), float("-inf")).amax(dim=1)


register("ts2vec", domain="temporal", description="alias of dilated_conv (TS2Vec's TSEncoder)")(
    DilatedConvEncoder
)


@register(
    "lstm",
    domain="temporal",
    description="stacked (bi)LSTM over time; per-timestamp outputs and final hidden states per series",
)
class LSTMEncoder(_SeriesEncoder):
    """A stacked, optionally bidirectional LSTM encoder, for comparison with the convolutional one.

    The series representation is the concatenation of the last layer's final hidden states (forward
    direction at the last valid timestamp, backward direction at the first). NaN-padded variable-length
    series are packed with their lengths (up to the last timestamp with data), so padding at the end is
    never read; other NaN timestamps get zero features as in TS2Vec.

    Args:
        in_channels: channels ``C`` of the input series (1 for univariate series).
        hidden: LSTM hidden size per direction.
        n_layers: number of stacked LSTM layers.
        bidirectional: run a backward LSTM too.
        dropout: dropout between LSTM layers (only when ``n_layers > 1``).

    Attributes:
        out_dim: ``hidden * (2 if bidirectional else 1)``.

    Shape:
        ``(B, C, T) -> (B, out_dim)`` (``pooled=True``) or ``(B, T, out_dim)`` (``pooled=False``, zeros
        after each series' end).

    Reference:
        Hochreiter & Schmidhuber 1997; used as a baseline encoder in Eldele et al. 2021 (TS-TCC).
    """

    def __init__(
        self,
        in_channels: int = 1,
        hidden: int = 128,
        n_layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(in_channels, hidden)
        self.n_layers = positive_int("n_layers", n_layers, owner="LSTMEncoder")
        self.bidirectional = bool(bidirectional)
        dropout = probability("dropout", dropout, owner="LSTMEncoder", high_open=True)
        self.lstm = nn.LSTM(
            in_channels,
            hidden,
            num_layers=n_layers,
            batch_first=True,
            bidirectional=self.bidirectional,
            dropout=float(dropout) if n_layers > 1 else 0.0,
        )
        self.out_dim = hidden * (2 if self.bidirectional else 1)

    def forward(self, x: Tensor, pooled: bool = True) -> Tensor:
        """Encode a batch of series.

        Args:
            x: ``(B, C, T)`` series; NaN marks missing timestamps or padding.
            pooled: return one vector per series instead of one per timestamp.

        Returns:
            ``(B, out_dim)`` when ``pooled``, else ``(B, T, out_dim)``.
        """
        self._check_input(x)
        b, _, t = x.shape
        seq = x.transpose(1, 2)  # (B, T, C)
        has_data = ~torch.isnan(seq).all(dim=-1)  # (B, T)
        seq, _ = _observed(seq)
        steps = torch.arange(1, t + 1, device=x.device)
        lengths = (has_data * steps).amax(dim=1).clamp_min(1)  # up to the last timestamp with data
        packed = nn.utils.rnn.pack_padded_sequence(seq, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)
        if not pooled:
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=t)
            return out
        dirs = 2 if self.bidirectional else 1
        last = h_n.view(self.n_layers, dirs, b, self.hidden)[-1]  # (dirs, B, hidden)
        return last.transpose(0, 1).reshape(b, self.out_dim)
