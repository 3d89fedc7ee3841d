"""Numerics and dtypes of the views (issue 15, items 9-12 and 15): one rule for half precision, no NaN/inf
from finite input, inf refused by series views, odd shapes and int input of the functional forms, and text
markup kept verbatim."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

from pairs.errors import DataError
from pairs.views import audio, graph, image, temporal, text
from pairs.views.base import Compose

SR = 8000
HALF = (torch.float16, torch.bfloat16)


def _clip(b: int = 2, t: int = 2048, scale: float = 0.1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 1, t, generator=g) * scale


# -- item 9: half precision everywhere: computed in float32, returned in the input dtype ------------------
HALF_CASES = {
    "TimeStretch": lambda x: audio.TimeStretch(SR, (0.8, 0.9))(x, 0),
    "time_stretch": lambda x: audio.time_stretch(x, SR, 1.2)[0],
    "AddNoise_pink": lambda x: audio.AddNoise(SR, (10.0, 10.0), color="pink")(x, 0),
    "speech_view": lambda x: audio.speech_view(SR)(x, 0),
    "PitchShift": lambda x: audio.PitchShift(SR, (3.0, 3.0))(x, 0),
}


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("name", sorted(HALF_CASES))
def test_half_precision_audio_matches_float32(name: str, dtype: torch.dtype) -> None:
    x = _clip().to(dtype)
    out = HALF_CASES[name](x)
    assert out.dtype == dtype
    assert out.shape == x.shape
    ref = HALF_CASES[name](x.float())  # the same draws on the same (rounded) input in float32
    tol = 2e-2 if dtype == torch.float16 else 6e-2
    assert torch.allclose(out.float(), ref, atol=tol * float(ref.abs().max()), rtol=0)


# -- item 10: finite input never gives NaN/inf without an error -------------------------------------------
@pytest.mark.parametrize(
    "name,view",
    [
        ("PitchShift", audio.PitchShift(SR, (2.0, 2.0))),
        ("TimeStretch", audio.TimeStretch(SR, (0.8, 0.8))),
        ("AddNoise", audio.AddNoise(SR, (10.0, 10.0))),
        ("AddNoise_pink", audio.AddNoise(SR, (10.0, 10.0), "pink")),
        ("LowPass", audio.LowPass(SR, (1000.0, 1000.0))),
    ],
)
def test_loud_audio_is_processed_like_quiet_audio(name: str, view) -> None:
    """The audio views are linear in the signal: at 1e30 (or 1e-30) they give 1e30 times the result at 1."""
    x = _clip(scale=1.0)
    ref = view(x, 0)
    for scale in (1e30, 1e-30):
        out = view(x * scale, 0)
        assert bool(torch.isfinite(out).all())
        assert torch.allclose(out / scale, ref, atol=1e-4 * float(ref.abs().max()), rtol=1e-4)


def test_speech_view_on_loud_audio_is_finite() -> None:
    x = _clip(b=4, scale=1e30)
    out = audio.speech_view(SR)(x, 3)
    assert bool(torch.isfinite(out).all())
    assert float(out.abs().max()) > 1e28


@pytest.mark.parametrize(
    "view", [temporal.Scaling(sigma=0.5), temporal.MagnitudeWarp(sigma=0.5), temporal.tstcc_weak_view()]
)
@pytest.mark.parametrize("dtype,top", [(torch.float32, 3e38), (torch.float16, 6e4)], ids=["f32", "f16"])
def test_series_scaling_overflow_is_a_clear_error(view, dtype: torch.dtype, top: float) -> None:
    x = (torch.linspace(-1.0, 1.0, 64).repeat(4, 2, 1) * top).to(dtype)
    assert bool(torch.isfinite(x).all())
    with pytest.raises(DataError, match="overflowed"):
        view(x, 0)


@pytest.mark.parametrize("dtype,top", [(torch.float32, 3e38), (torch.float16, 6e4)], ids=["f32", "f16"])
def test_normalize_overflow_is_a_clear_error(dtype: torch.dtype, top: float) -> None:
    x = (torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * top).to(dtype)
    with pytest.raises(DataError, match=r"Normalize: the output overflowed"):
        image.Normalize([0.5, 0.5, 0.5], [0.1, 0.1, 0.1])(x, 0)


def test_overflow_inside_compose_names_the_inner_view() -> None:
    x = torch.full((2, 1, 32), 3e38)
    view = Compose([temporal.Jitter(0.0), temporal.Scaling(sigma=0.0, mean=2.0)])
    with pytest.raises(DataError, match=r"^Scaling: the output overflowed torch.float32"):
        view(x, 0)


def test_nan_padding_views_may_write_nan() -> None:
    x = torch.randn(3, 2, 40, generator=torch.Generator().manual_seed(1))
    out = temporal.FrameDrop(0.5, fill="nan")(x, 0)
    assert bool(torch.isnan(out).any())  # the declared missing-value padding, not an overflow error


# -- item 11: series views refuse +-inf ------------------------------------------------------------------
@pytest.mark.parametrize(
    "view",
    [
        temporal.TimeWarp(),
        temporal.WindowSlice(),
        temporal.WindowWarp(),
        temporal.FrameDrop(0.5),
        temporal.SpeedChange(fill="edge"),
        temporal.SpeedChange(fill="zero"),
        temporal.Jitter(),
    ],
    ids=repr,
)
@pytest.mark.parametrize("value", [float("inf"), -float("inf")])
def test_series_views_refuse_inf(view, value: float) -> None:
    x = torch.randn(2, 3, 50, generator=torch.Generator().manual_seed(0))
    x[1, 2, 7] = value
    with pytest.raises(DataError, match="1 infinite values"):
        view(x, 0)


def test_series_views_still_accept_nan_padding() -> None:
    x = torch.randn(2, 3, 50, generator=torch.Generator().manual_seed(0))
    x[0, :, 40:] = float("nan")
    out = temporal.TimeWarp()(x, 0)
    assert bool(torch.isnan(out[0, :, 40:]).all())
    assert bool(torch.isfinite(out[1]).all())


# -- item 12: odd shapes and int input of MaskFeatures and the audio functions ----------------------------
@pytest.mark.parametrize("mode", graph.MaskFeatures.MODES)
def test_mask_features_without_feature_columns(mode: str) -> None:
    data = Data(x=torch.zeros(6, 0), edge_index=torch.tensor([[0, 1], [1, 0]]))
    out = graph.MaskFeatures(p=0.5, mode=mode)(Batch.from_data_list([data, data]), 0)
    assert out.x.shape == (12, 0)


def test_mask_features_entries_counts_per_graph() -> None:
    data = Data(x=torch.ones(5, 4), edge_index=torch.tensor([[0, 1], [1, 0]]))
    out = graph.MaskFeatures(p=0.5, mode="entries")(Batch.from_data_list([data, data]), 0)
    assert [(out.x[out.batch == i] == 0).sum().item() for i in range(2)] == [10, 10]


EMPTY = torch.zeros(0, 1, 100)
INT = torch.ones(2, 1, 100, dtype=torch.int16)
AUDIO_FUNCTIONS = {
    "time_shift": lambda x: audio.time_shift(x, torch.zeros(x.shape[0], dtype=torch.long)),
    "filter_fft": lambda x: audio.filter_fft(x, SR, torch.full((x.shape[0],), 500.0), "lowpass"),
    "add_noise": lambda x: audio.add_noise(x, x, torch.full((x.shape[0],), 10.0)),
    "gain": lambda x: audio.gain(x, torch.full((x.shape[0],), 6.0)),
    "resample_at": lambda x: audio.resample_at(x[:, 0], torch.rand(x.shape[0], 50) * 99),
}


@pytest.mark.parametrize("name", sorted(AUDIO_FUNCTIONS))
def test_audio_functions_refuse_empty_batches(name: str) -> None:
    with pytest.raises(DataError, match="empty|no samples"):
        fn = AUDIO_FUNCTIONS[name]
        fn(torch.zeros(2, 1, 0)) if name == "resample_at" else fn(EMPTY)


@pytest.mark.parametrize("name", sorted(AUDIO_FUNCTIONS))
def test_audio_functions_refuse_int_audio(name: str) -> None:
    with pytest.raises(TypeError, match="floating-point"):
        AUDIO_FUNCTIONS[name](INT)


@pytest.mark.parametrize("name", sorted(AUDIO_FUNCTIONS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64], ids=str)
def test_audio_functions_keep_the_dtype(name: str, dtype: torch.dtype) -> None:
    x = _clip(t=100).to(dtype)
    out = AUDIO_FUNCTIONS[name](x)
    assert out.dtype == dtype
    ref = AUDIO_FUNCTIONS[name](x.double()) if name != "resample_at" else None
    if ref is not None:
        assert torch.allclose(out.double(), ref, atol=2e-2 * float(ref.abs().max()) + 1e-6)


def test_gain_values() -> None:
    x = _clip(t=16)
    out = audio.gain(x, torch.tensor([20.0, -20.0]))
    assert torch.allclose(out[0], x[0] * 10)
    assert torch.allclose(out[1], x[1] / 10)


def test_add_noise_hits_the_snr_at_any_amplitude() -> None:
    x = _clip(b=2, t=4000, scale=1e30)
    noise = torch.randn(2, 1, 4000, generator=torch.Generator().manual_seed(3)) * 1e-20
    out = audio.add_noise(x, noise, torch.tensor([10.0, 20.0]))
    snr = 10 * torch.log10(x.double().pow(2).mean((1, 2)) / (out.double() - x.double()).pow(2).mean((1, 2)))
    assert torch.allclose(snr, torch.tensor([10.0, 20.0], dtype=torch.float64), atol=1e-3)


def test_time_shift_huge_shift_is_reduced() -> None:
    x = torch.arange(10.0).reshape(1, 1, 10)
    for shift in (torch.tensor([10**12 + 3]), torch.tensor([1e12 + 3], dtype=torch.float64)):
        out = audio.time_shift(x, shift, rollover=True)
        assert out.flatten().tolist() == torch.roll(x, 3, -1).flatten().tolist()
    assert audio.time_shift(x, torch.tensor([10**15]), rollover=False).abs().sum() == 0


# -- item 15: text views leave HTML markup and entities alone ---------------------------------------------
def test_word_spans_skip_markup() -> None:
    s = 'Tom &amp; Jerry: <b>Hello</b> <a href="x.html">world</a> &#39;now&#x27; <!-- note --> 3 < 4'
    assert [s[a:b] for a, b in text.word_spans(s)] == ["Tom", "Jerry", "Hello", "world", "now", "3", "4"]


def test_text_views_keep_markup_verbatim() -> None:
    s = "Fish &amp; chips: <b>Hello</b> there, <i>dear</i> friend"
    out = text.WordDropout(p=1.0)(s, 0)
    assert out == "<unk> &amp; <unk>: <b><unk></b> <unk>, <i><unk></i> <unk>"
    for view in (text.RandomDeletion(p=0.5), text.RandomSwap(alpha=0.5), text.SpanCrop()):
        for seed in range(5):
            got = view(s, seed)
            assert "&amp;" in got or "&" not in got  # an entity is kept whole or dropped whole, never split
            assert "<<" not in got
            assert "amp" not in got.replace("&amp;", "")


# -- found by the fuzz suite (tests/fuzz) ----------------------------------------------------------------
def test_torchvision_view_reports_a_failing_transform_and_keeps_float_dtype() -> None:
    from torchvision.transforms import v2

    view = image.TorchvisionView(v2.Grayscale())
    with pytest.raises(
        DataError, match=r"TorchvisionView: the transform failed on example 0 \(shape \(2, 4, 4\)"
    ):
        view(torch.rand(1, 2, 4, 4), 0)
    out = image.torchvision_recipe("simclr", 8)(torch.rand(2, 3, 8, 8, dtype=torch.float64), 0)
    assert out.dtype == torch.float64


def test_from_networkx_graph_refuses_features_beyond_float32() -> None:
    import networkx as nx

    g = nx.Graph()
    g.add_node(0, x=[1.0, 1e300])
    g.add_node(1, x=[2.0])
    with pytest.raises(DataError, match="beyond the float32 range"):
        graph.from_networkx_graph(g.subgraph([0]).copy())
    with pytest.raises(DataError, match="the same length on every node"):
        graph.from_networkx_graph(g)
