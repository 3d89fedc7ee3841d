"""Tests of the time-series encoders: shapes, agreement with TS2Vec's reference encoder, receptive field,
NaN handling, training masks, the LSTM's packing, the registry and bad inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import encoders
from encoders.temporal import DilatedConvEncoder, LSTMEncoder

NAN = float("nan")


# --------------------------------------------------------------------------------------------------
# A straight transcription of TS2Vec's models/encoder.py + models/dilated_conv.py (input (B, T, C))
# --------------------------------------------------------------------------------------------------
class _RefSamePadConv(nn.Module):
    def __init__(self, cin, cout, k, dilation=1):
        super().__init__()
        self.receptive_field = (k - 1) * dilation + 1
        self.conv = nn.Conv1d(cin, cout, k, padding=self.receptive_field // 2, dilation=dilation)
        self.remove = 1 if self.receptive_field % 2 == 0 else 0

    def forward(self, x):
        out = self.conv(x)
        return out[:, :, : -self.remove] if self.remove > 0 else out


class _RefConvBlock(nn.Module):
    def __init__(self, cin, cout, k, dilation, final=False):
        super().__init__()
        self.conv1 = _RefSamePadConv(cin, cout, k, dilation)
        self.conv2 = _RefSamePadConv(cout, cout, k, dilation)
        self.projector = nn.Conv1d(cin, cout, 1) if cin != cout or final else None

    def forward(self, x):
        residual = x if self.projector is None else self.projector(x)
        x = F.gelu(x)
        x = self.conv1(x)
        x = F.gelu(x)
        x = self.conv2(x)
        return x + residual


class _RefTSEncoder(nn.Module):
    def __init__(self, input_dims, output_dims, hidden_dims=64, kernel_size=3, depth=10):
        super().__init__()
        self.input_fc = nn.Linear(input_dims, hidden_dims)
        channels = [hidden_dims] * depth + [output_dims]
        self.blocks = nn.Sequential(
            *[
                _RefConvBlock(
                    channels[i - 1] if i > 0 else hidden_dims,
                    channels[i],
                    kernel_size,
                    dilation=2**i,
                    final=(i == len(channels) - 1),
                )
                for i in range(len(channels))
            ]
        )
        self.repr_dropout = nn.Dropout(p=0.1)

    def forward(self, x, mask=None):  # x: B x T x input_dims
        x = x.clone()
        nan_mask = ~x.isnan().any(axis=-1)
        x[~nan_mask] = 0
        x = self.input_fc(x)
        if mask is None:
            mask = nan_mask
        else:
            mask = mask & nan_mask
        x[~mask] = 0
        x = x.transpose(1, 2)
        x = self.repr_dropout(self.blocks(x))
        return x.transpose(1, 2)


def _pair(c=3, hidden=16, out=24, depth=3, k=3):
    torch.manual_seed(0)
    ours = DilatedConvEncoder(c, hidden=hidden, out_dim=out, depth=depth, kernel_size=k)
    ref = _RefTSEncoder(c, out, hidden, k, depth)
    state = {k2.replace("feature_extractor.", "blocks."): v for k2, v in ours.state_dict().items()}
    ref.load_state_dict(state)
    return ours.eval(), ref.eval()


class TestDilatedConv:
    def test_shapes_and_out_dim(self):
        net = DilatedConvEncoder(2, hidden=8, out_dim=12, depth=2).eval()
        x = torch.randn(5, 2, 37)
        assert net(x).shape == (5, 12)
        assert net(x, pooled=False).shape == (5, 37, 12)
        assert net.out_dim == 12
        assert DilatedConvEncoder(1).out_dim == 320
        assert len(DilatedConvEncoder(1).feature_extractor) == 11

    @pytest.mark.parametrize("k", [2, 3, 4])
    def test_matches_ts2vec_reference(self, k):
        ours, ref = _pair(k=k)
        x = torch.randn(4, 3, 50)
        x[0, :, 40:] = NAN  # padding
        x[1, 1, 7] = NAN  # one missing value: the whole timestamp is zeroed, as TS2Vec
        with torch.no_grad():
            r = ref(x.transpose(1, 2))
            assert torch.allclose(ours(x, pooled=False), r, atol=1e-5)
            mask = torch.rand(4, 50) > 0.5
            assert torch.allclose(ours(x, pooled=False, mask=mask), ref(x.transpose(1, 2), mask), atol=1e-5)
        assert not torch.isnan(x[2]).any()  # input untouched (TS2Vec writes zeros into its input)
        assert torch.isnan(x[0, :, 40:]).all()

    def test_pooling_is_max_over_valid_timestamps(self):
        ours, ref = _pair()
        x = torch.randn(3, 3, 30)
        x[1, :, 20:] = NAN
        with torch.no_grad():
            reps = ours(x, pooled=False)
            pooled = ours(x)
        assert torch.allclose(pooled[0], reps[0].amax(0))
        assert torch.allclose(pooled[2], reps[2].amax(0))
        assert torch.allclose(pooled[1], reps[1, :20].amax(0))  # padding left out
        assert torch.allclose(DilatedConvEncoder.pool(reps), reps.amax(1))
        assert torch.isfinite(pooled).all()

    def test_receptive_field(self):
        torch.manual_seed(0)
        net = DilatedConvEncoder(1, hidden=4, out_dim=4, depth=2, kernel_size=3, dropout=0.0).eval()
        half = (net.receptive_field - 1) // 2
        assert net.receptive_field == 1 + 2 * 2 * (1 + 2 + 4)
        assert half == 14
        x = torch.randn(1, 1, 61, requires_grad=True)
        net(x, pooled=False)[0, 30].sum().backward()
        touched = (x.grad[0, 0] != 0).nonzero().flatten()
        assert touched.min().item() == 30 - half
        assert touched.max().item() == 30 + half

    def test_training_mask_seeded(self):
        torch.manual_seed(0)
        net = DilatedConvEncoder(2, hidden=8, out_dim=8, depth=2, dropout=0.0).train()
        x = torch.randn(3, 2, 40)
        a = net(x, pooled=False, generator=torch.Generator().manual_seed(1))
        b = net(x, pooled=False, generator=torch.Generator().manual_seed(1))
        c = net(x, pooled=False, generator=torch.Generator().manual_seed(2))
        assert torch.equal(a, b)
        assert not torch.equal(a, c)
        assert not torch.allclose(a, net.eval()(x, pooled=False))
        net_none = DilatedConvEncoder(2, hidden=8, out_dim=8, depth=2, dropout=0.0, mask_mode=None)
        net_none.load_state_dict(net.state_dict())
        assert torch.allclose(net_none.train()(x), net_none.eval()(x))

    def test_training_mask_matches_reference_binomial(self):
        ours, ref = _pair()
        ours.repr_dropout.p = 0.0
        ref.repr_dropout.p = 0.0
        x = torch.randn(2, 3, 20)
        g = torch.Generator().manual_seed(3)
        keep = torch.rand((2, 20), generator=torch.Generator().manual_seed(3)) >= 0.5
        with torch.no_grad():
            out = ours.train()(x, pooled=False, generator=g)
            assert torch.allclose(out, ref(x.transpose(1, 2), keep), atol=1e-5)

    def test_all_nan_series_stays_finite(self):
        net = DilatedConvEncoder(2, hidden=8, out_dim=8, depth=1).eval()
        x = torch.randn(2, 2, 10)
        x[0] = NAN
        assert torch.isfinite(net(x)).all()
        assert torch.isfinite(net(x, pooled=False)).all()

    def test_backward(self):
        net = DilatedConvEncoder(2, hidden=8, out_dim=8, depth=2).train()
        x = torch.randn(4, 2, 25)
        x[0, :, 20:] = NAN
        net(x, generator=torch.Generator().manual_seed(0)).sum().backward()
        assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


class TestLSTM:
    def test_shapes(self):
        net = LSTMEncoder(3, hidden=10, n_layers=2)
        x = torch.randn(4, 3, 17)
        assert net(x).shape == (4, 20)
        assert net(x, pooled=False).shape == (4, 17, 20)
        assert net.out_dim == 20
        uni = LSTMEncoder(3, hidden=10, n_layers=1, bidirectional=False)
        assert uni(x).shape == (4, 10)
        assert uni.out_dim == 10

    def test_pooled_is_final_hidden_states(self):
        torch.manual_seed(0)
        net = LSTMEncoder(2, hidden=6, n_layers=2)
        x = torch.randn(3, 2, 12)
        seq = net(x, pooled=False)
        pooled = net(x)
        assert torch.allclose(pooled[:, :6], seq[:, -1, :6], atol=1e-6)  # forward direction, last step
        assert torch.allclose(pooled[:, 6:], seq[:, 0, 6:], atol=1e-6)  # backward direction, first step

    def test_padding_is_not_read(self):
        torch.manual_seed(0)
        net = LSTMEncoder(2, hidden=6, n_layers=2)
        x = torch.randn(1, 2, 9)
        padded = torch.cat([x, torch.full((1, 2, 5), NAN)], dim=2)
        both = torch.cat([padded, torch.randn(1, 2, 14)])
        assert torch.allclose(net(both)[0], net(x)[0], atol=1e-6)
        seq = net(both, pooled=False)
        assert torch.allclose(seq[0, :9], net(x, pooled=False)[0], atol=1e-6)
        assert (seq[0, 9:] == 0).all()

    def test_missing_values_are_zeroed(self):
        net = LSTMEncoder(2, hidden=4)
        x = torch.randn(2, 2, 10)
        x[0, 1, 3] = NAN
        z = x.clone()
        z[0, :, 3] = 0
        assert torch.allclose(net(x), net(z))


class TestRegistryAndErrors:
    def test_registered(self):
        assert {"dilated_conv", "ts2vec", "lstm"} <= set(encoders.available(domain="temporal"))
        net = encoders.get("ts2vec", in_channels=2, depth=1, out_dim=16)
        assert isinstance(net, DilatedConvEncoder)
        assert net.out_dim == 16
        assert isinstance(encoders.get("lstm", in_channels=4), LSTMEncoder)
        with pytest.raises(TypeError, match="Accepted arguments"):
            encoders.get("dilated_conv", channels=3)

    @pytest.mark.parametrize(
        "net", [DilatedConvEncoder(2, depth=1), LSTMEncoder(2, hidden=4)], ids=["conv", "lstm"]
    )
    def test_bad_inputs(self, net):
        with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
            net(torch.randn(2, 10))
        with pytest.raises(ValueError, match="in_channels=3"):
            net(torch.randn(4, 3, 10))
        with pytest.raises(TypeError, match="floating-point"):
            net(torch.ones(4, 2, 10, dtype=torch.long))
        with pytest.raises(TypeError, match="torch.Tensor"):
            net([[1.0]])

    def test_bad_arguments(self):
        for kwargs in [
            {"in_channels": 0},
            {"hidden": -1},
            {"depth": -1},
            {"mask_mode": "continuous"},
            {"mask_p": 1},
        ]:
            with pytest.raises(ValueError):
                DilatedConvEncoder(**{"in_channels": 1, **kwargs})
        with pytest.raises(ValueError):
            LSTMEncoder(1, n_layers=0)
        net = DilatedConvEncoder(2, depth=1)
        with pytest.raises(ValueError, match="mask must be a bool tensor"):
            net(torch.randn(2, 2, 10), mask=torch.ones(2, 9, dtype=torch.bool))
