"""Contrastive Predictive Coding: negative sampling, the per-step InfoNCE against a slow reference, causal
context networks, the method's errors and seeding, the temporal-structure control, and `pairs train`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from encoders.sequence import (
    CausalTransformerContext,
    CPCModel,
    GRUContext,
    LatentSequence,
    LSTMContext,
    StepPredictors,
    build_context,
)
from pairs.losses.cpc import cpc_loss, negative_candidates, sample_negatives
from pairs.methods import build_method
from pairs.methods.cpc import CPC
from pairs.pairing import ViewBatch
from pairs.views.base import derive_seed

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread (and do not fight other processes for the cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class PatchLinear(nn.Module):
    """Flatten a patch ``(B, C, L)`` and map it linearly to ``out_dim``."""

    def __init__(self, channels: int, length: int, out_dim: int) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.net = nn.Linear(channels * length, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


def markov_sequences(
    n: int, length: int = 16, vocab: int = 32, channels: int = 8, p: float = 0.85, seed: int = 0
):
    """Sequences with known predictable structure: symbol ``s_{t+1} = s_t + 1 (mod V)`` with probability
    ``p``, else a uniform jump; each symbol is a fixed random vector plus a little noise. ``z_{t+k}`` is
    predictable from ``s_t`` with probability about ``p**k``, so accuracy should fall with ``k``."""
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(vocab, channels, generator=g)
    s = torch.empty(n, length, dtype=torch.long)
    s[:, 0] = torch.randint(0, vocab, (n,), generator=g)
    for t in range(1, length):
        jump = torch.rand(n, generator=g) > p
        s[:, t] = torch.where(jump, torch.randint(0, vocab, (n,), generator=g), (s[:, t - 1] + 1) % vocab)
    x = emb[s] + 0.1 * torch.randn(n, length, channels, generator=g)
    return x.transpose(1, 2).contiguous()  # (N, C, T)


def train_cpc(
    x: torch.Tensor, negatives_from: str, steps: int = 120, k: int = 4, negatives: int = 4, score: str = "dot"
):
    torch.manual_seed(0)
    method = CPC(
        PatchLinear(x.shape[1], 1, 16),
        steps=k,
        context_dim=32,
        negatives=negatives,
        negatives_from=negatives_from,
        patch_len=1,
        acc_window=30,
        score=score,
        temperature=1.0 if score == "dot" else 0.1,
    )
    opt = torch.optim.Adam(method.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(2)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=g)
        out = method(ViewBatch([x[idx]], None, idx))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    acc = method.step_accuracies()
    return [acc[f"acc_k{i + 1}"] for i in range(k)]


# ------------------------------------------------------------------------------------------------ sampling
@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(1, 5),
    t=st.integers(2, 9),
    k=st.integers(1, 8),
    n=st.integers(1, 12),
    mode=st.sampled_from(["same", "batch", "both"]),
    seed=st.integers(0, 2**31),
)
def test_negatives_never_the_positive_and_from_the_right_place(b, t, k, n, mode, seed):
    if k >= t or n > negative_candidates(b, t, mode):
        with pytest.raises(ValueError):
            sample_negatives(b, t, k, n, mode, torch.Generator().manual_seed(seed))
        return
    idx = sample_negatives(b, t, k, n, mode, torch.Generator().manual_seed(seed))
    assert idx.shape == (b, t - k, n)
    seq, pos = idx // t, idx % t
    own = torch.arange(b)[:, None, None]
    target = torch.arange(k, t)[None, :, None]
    assert ((idx >= 0) & (idx < b * t)).all()
    assert not ((seq == own) & (pos == target)).any(), "the positive was drawn as a negative"
    if mode == "same":
        assert (seq == own).all()
    if mode == "batch":
        assert (seq != own).all()
    again = sample_negatives(b, t, k, n, mode, torch.Generator().manual_seed(seed))
    assert torch.equal(idx, again)


def test_negatives_cover_every_candidate():
    seen: set[int] = set()
    for seed in range(30):
        idx = sample_negatives(3, 5, 2, 14, "both", torch.Generator().manual_seed(seed))
        seen |= set(idx[1, 0].tolist())
    # anchor (b=1, t=0): positive at flat index 1*5 + 2 = 7; all 14 other indices are drawn
    assert seen == set(range(15)) - {7}


def test_sampling_errors_are_clear():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="candidate"):
        sample_negatives(1, 8, 1, 1, "batch", g)
    with pytest.raises(ValueError, match="candidate"):
        sample_negatives(2, 4, 1, 4, "same", g)
    with pytest.raises(ValueError, match="negatives must come from"):
        sample_negatives(2, 4, 1, 1, "other", g)
    with pytest.raises(ValueError, match=">= 1"):
        sample_negatives(2, 4, 1, 0, "same", g)


# ------------------------------------------------------------------------------------------------ loss
def reference_cpc_loss(pred, z, n, mode, seed, temperature=1.0, normalize=False):
    """Slow loop: for every step, position and negative, the score and the softmax, one at a time."""
    k_max, b, t, _ = pred.shape
    if normalize:
        pred, z = pred / pred.norm(dim=-1, keepdim=True), z / z.norm(dim=-1, keepdim=True)
    g = torch.Generator().manual_seed(seed)
    losses, accs = [], []
    for k in range(1, k_max + 1):
        idx = sample_negatives(b, t, k, n, mode, g)
        terms, hits = [], []
        for i in range(b):
            for s in range(t - k):
                p = pred[k - 1, i, s]
                scores = [torch.dot(p, z[i, s + k]) / temperature]
                for j in idx[i, s].tolist():
                    scores.append(torch.dot(p, z[j // t, j % t]) / temperature)
                scores = torch.stack(scores)
                terms.append(-(scores[0] - torch.logsumexp(scores, 0)))
                hits.append(float(scores[0] > scores[1:].max()))
        losses.append(torch.stack(terms).mean())
        accs.append(sum(hits) / len(hits))
    return torch.stack(losses), torch.tensor(accs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ["same", "batch", "both"])
@pytest.mark.parametrize("normalize", [False, True])
def test_cpc_loss_matches_reference_values_and_gradients(dtype, mode, normalize):
    g = torch.Generator().manual_seed(3)
    pred = torch.randn(3, 4, 7, 5, generator=g, dtype=dtype, requires_grad=True)
    z = torch.randn(4, 7, 5, generator=g, dtype=dtype, requires_grad=True)
    out = cpc_loss(pred, z, 3, mode, torch.Generator().manual_seed(11), temperature=0.5, normalize=normalize)
    ref_steps, ref_acc = reference_cpc_loss(pred.double(), z.double(), 3, mode, 11, 0.5, normalize)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(out.step_losses.double(), ref_steps.detach(), atol=tol, rtol=tol)
    torch.testing.assert_close(out.step_accuracy.double(), ref_acc.double())
    grads = torch.autograd.grad(out.loss, (pred, z))
    ref_grads = torch.autograd.grad(ref_steps.mean(), (pred, z))
    for a, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a.double(), r.double(), atol=tol, rtol=1e-4)


def test_cpc_loss_shape_errors():
    with pytest.raises(ValueError, match="more than K latents"):
        cpc_loss(torch.randn(4, 2, 4, 3), torch.randn(2, 4, 3))
    with pytest.raises(ValueError, match="same B, T, D"):
        cpc_loss(torch.randn(2, 2, 5, 3), torch.randn(2, 5, 4))


# ------------------------------------------------------------------------------------------------ parts
@pytest.mark.parametrize("kind", ["gru", "lstm", "transformer"])
def test_context_networks_are_causal(kind):
    torch.manual_seed(0)
    net = build_context(kind, 6, 8, 2).eval()
    assert isinstance(
        net, {"gru": GRUContext, "lstm": LSTMContext, "transformer": CausalTransformerContext}[kind]
    )
    z = torch.randn(2, 10, 6)
    changed = z.clone()
    changed[:, 6:] = torch.randn(2, 4, 6)
    a, b = net(z), net(changed)
    assert a.shape == (2, 10, 8)
    torch.testing.assert_close(a[:, :6], b[:, :6])  # c_t for t < 6 does not see z_6..
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_context_and_predictor_errors():
    with pytest.raises(ValueError, match="unknown context"):
        build_context("rnn", 4)
    with pytest.raises(ValueError, match="steps"):
        StepPredictors(4, 4, 0)
    with pytest.raises(ValueError, match="heads"):
        CausalTransformerContext(4, 6, heads=4)
    with pytest.raises(ValueError, match=r"\(B, T, 4\)"):
        GRUContext(4)(torch.randn(2, 3, 5))


def test_predictors_predict_every_step_from_every_context():
    pred = StepPredictors(8, 5, 3, hidden=16)
    c = torch.randn(2, 7, 8)
    out = pred(c)
    assert out.shape == (3, 2, 7, 5)
    torch.testing.assert_close(out[1, 1, 4], pred.heads[1](c[1, 4]))


def test_latent_sequence_patches_are_encoded_independently():
    torch.manual_seed(0)
    enc = PatchLinear(2, 5, 3)
    seq = LatentSequence(enc, patch_len=5)
    x = torch.randn(4, 2, 23)
    z = seq(x)
    assert z.shape == (4, 4, 3)
    for t in range(4):
        torch.testing.assert_close(z[:, t], enc(x[..., 5 * t : 5 * t + 5]))
    auto = LatentSequence(enc, patches=4)
    assert auto.resolved_patch_len(20) == 5
    with pytest.raises(ValueError, match="at least 2 latents"):
        seq(torch.randn(1, 2, 7))


def test_latent_sequence_uses_waveform_frames():
    import encoders

    conv = encoders.get("cpc_conv", out_dim=16)
    model = CPCModel(LatentSequence(conv), GRUContext(16, 8))
    x = torch.randn(2, 1, 1600)
    z, c = model.sequences(x)
    assert z.shape == (2, 10, 16)
    assert c.shape == (2, 10, 8)
    assert model(x).shape == (2, 8)
    assert model.out_dim == 8
    torch.testing.assert_close(z, conv.frames(x))


def test_transformer_context_runs_in_the_method():
    torch.manual_seed(0)
    method = CPC(
        PatchLinear(3, 1, 8), steps=2, context="transformer", context_dim=16, negatives=3, patch_len=1
    )
    out = method(ViewBatch([torch.randn(4, 3, 12)], None, torch.arange(4)))
    out["loss"].backward()
    assert set(out) >= {"loss", "embeddings", "acc_k1", "acc_k2", "loss_k1", "loss_k2"}
    assert out["embeddings"].shape == (4, 16)


# ------------------------------------------------------------------------------------------------ method
def test_method_bad_input_errors():
    enc = PatchLinear(1, 1, 4)
    with pytest.raises(ValueError, match="steps"):
        CPC(enc, steps=0)
    with pytest.raises(ValueError, match="negatives_from"):
        CPC(enc, negatives_from="future")
    with pytest.raises(ValueError, match="patches"):
        CPC(enc, steps=12, patches=12)
    with pytest.raises(ValueError, match="score"):
        CPC(enc, score="l2")
    method = CPC(enc, steps=4, negatives=3, patch_len=1, context_dim=8)
    with pytest.raises(ValueError, match="more than 4 latents.*at least 5 samples"):
        method(ViewBatch([torch.randn(2, 1, 4)], None, torch.arange(2)))
    too_many = CPC(enc, steps=2, negatives=50, negatives_from="same", patch_len=1, context_dim=8)
    with pytest.raises(ValueError, match="50 negatives asked for"):
        too_many(ViewBatch([torch.randn(2, 1, 10)], None, torch.arange(2)))
    with pytest.raises(TypeError, match="cpc_window"):
        method(ViewBatch([[1, 2, 3]], None, torch.arange(3)))


def test_short_waveforms_name_the_length_needed():
    import encoders

    method = CPC(encoders.get("cpc_conv", out_dim=8), steps=12, context_dim=8)
    with pytest.raises(ValueError, match="at least 2080 samples"):
        method(ViewBatch([torch.randn(2, 1, 1600)], None, torch.arange(2)))


def test_second_view_feeds_the_context_and_targets_come_from_the_first():
    torch.manual_seed(0)
    x, other = torch.randn(4, 2, 16), torch.randn(4, 2, 16)
    method = CPC(PatchLinear(2, 1, 6), steps=3, negatives=5, patch_len=1, context_dim=8).eval()
    single = method(ViewBatch([x], None, torch.arange(4)))
    same = method(ViewBatch([x, x], None, torch.arange(4)))
    torch.testing.assert_close(single["loss"], same["loss"])
    mixed = method(ViewBatch([x, other], None, torch.arange(4)))
    with torch.no_grad():  # slow reference: context from `other`, latents (targets, negatives) from `x`
        z = method.encoder.latents(x)
        c = method.encoder.context(method.encoder.latents(other))
        gen = torch.Generator().manual_seed(derive_seed(method.seed, 0))
        ref = cpc_loss(method.predictors(c), z, 5, "both", gen)
    torch.testing.assert_close(mixed["loss"], ref.loss)
    torch.testing.assert_close(mixed["embeddings"], c.mean(dim=1))
    with pytest.raises(ValueError, match="second view"):
        method(ViewBatch([x, x[..., :8]], None, torch.arange(4)))


def test_negatives_are_seeded_by_step_and_resume_exactly():
    torch.manual_seed(0)
    x = torch.randn(4, 2, 16)
    batch = ViewBatch([x], None, torch.arange(4))
    a = CPC(PatchLinear(2, 1, 6), steps=3, negatives=5, patch_len=1, context_dim=8, seed=7)
    b = build_method("cpc", PatchLinear(2, 1, 6), steps=3, negatives=5, patch_len=1, context_dim=8, seed=7)
    b.load_state_dict(a.state_dict())
    first = a(batch)["loss"]
    torch.testing.assert_close(first, b(batch)["loss"])
    assert int(a.step) == 1
    second = a(batch)["loss"]
    assert not torch.allclose(first, second)  # a new step draws new negatives
    c = CPC(PatchLinear(2, 1, 6), steps=3, negatives=5, patch_len=1, context_dim=8, seed=7)
    c.load_state_dict(a.state_dict())  # "resume" after two steps
    torch.testing.assert_close(a(batch)["loss"], c(batch)["loss"])
    assert set(a.step_accuracies()) == {"acc_k1", "acc_k2", "acc_k3"}


def test_temporal_structure_not_a_shortcut(one_thread):
    """Structured sequences: step accuracy far above chance for small k, falling with k. The same
    sequences shuffled in time: the advantage is gone (flat in k, near chance)."""
    x = markov_sequences(512)
    chance = 1 / (4 + 1)
    structured = train_cpc(x, "same")
    assert structured[0] > 0.6 > chance + 0.3
    assert structured[0] > structured[1] > structured[3] + 0.1  # predictability ~ p**k falls with k
    g = torch.Generator().manual_seed(1)
    perm = torch.argsort(torch.rand(x.shape[0], x.shape[-1], generator=g), dim=1)
    shuffled = train_cpc(x.gather(2, perm[:, None].expand_as(x)), "same")
    # Same-sequence negatives leave one cue without temporal order: a negative drawn from a position the
    # context has already seen is never the positive; it is worth about +0.13 here, and nothing else is.
    assert max(shuffled) < chance + 0.17
    assert max(shuffled) - min(shuffled) < 0.06
    assert structured[0] > max(shuffled) + 0.35
    cosine = train_cpc(x, "same", score="cosine")
    assert cosine[0] > 0.6
    assert cosine[0] > cosine[3] + 0.1
    # Shuffled across time and sequences, with negatives from the whole batch, even that cue is gone.
    flat = x.transpose(1, 2).reshape(-1, x.shape[1])
    order = torch.randperm(len(flat), generator=g)
    scrambled = flat[order].reshape(x.shape[0], x.shape[2], x.shape[1]).transpose(1, 2).contiguous()
    assert max(train_cpc(scrambled, "both")) < chance + 0.06


# ------------------------------------------------------------------------------------------------ CLI
def _cli(args, cwd):
    proc = subprocess.run(
        [sys.executable, "-m", "pairs", *args], cwd=cwd, capture_output=True, text=True, env=None
    )
    return proc


def _train_cpc(data: str, out, *extra: str):
    """``pairs train`` with CPC and its window views on ``data`` (one epoch, one thread, a JSON report);
    asserts that it succeeded and returns the process and the report."""
    args = ["train", "--data", data, "--method", "cpc", "--views", "cpc_window", "--epochs", "1", *extra]
    proc = _cli([*args, "--out", str(out), "--threads", "1", "--no-progress", "--json"], ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc, json.loads(proc.stdout.strip().splitlines()[-1])


def test_pairs_train_cpc_on_series(tmp_path):
    g = np.random.default_rng(0)
    t = np.arange(96)
    y = np.repeat([0, 1], 20)
    freq = np.where(y == 0, 0.1, 0.25)[:, None]
    x = np.sin(freq * t[None] + g.uniform(0, 6, (40, 1))) + 0.1 * g.standard_normal((40, 96))
    np.savez(tmp_path / "s.npz", X=x.astype(np.float32), y=y)
    proc, report = _train_cpc(f"series:{tmp_path / 's.npz'}", tmp_path / "run")
    assert report["method"] == "cpc"
    # the two classes are sines of different frequencies: separable for any working encoder and probe;
    # labels lost or features collapsed would give about 0.5
    assert report["linear_probe_acc"] == 1.0
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("acc_k1" in m for m in metrics)


def test_pairs_train_cpc_on_audio(tmp_path):
    import soundfile as sf

    g = np.random.default_rng(0)
    sr = 16000
    for label, f0 in (("low", 150.0), ("high", 400.0)):
        (tmp_path / "clips" / label).mkdir(parents=True)
        for i in range(14):  # 22 training clips: enough for the kNN figure (k=20)
            tt = np.arange(sr) / sr
            wave = 0.3 * np.sin(2 * np.pi * f0 * (1 + 0.05 * i) * tt) + 0.01 * g.standard_normal(len(tt))
            sf.write(tmp_path / "clips" / label / f"{i}.wav", wave.astype(np.float32), sr)
    proc, report = _train_cpc(f"audio:{tmp_path / 'clips'}", tmp_path / "run", "--batch-size", "4")
    assert report["method"] == "cpc"
    assert "linear_probe_acc" in report
    # the hand-crafted baseline, once per run: 150 Hz vs 400 Hz tones are easy for mean+std MFCCs
    assert report["mfcc_probe_acc"] >= 0.9
    assert "mfcc_probe_acc_untrained" not in report
    assert "mfcc_probe_acc: " in proc.stdout
    assert "hand-crafted baseline" in proc.stdout
    proc = _cli(["eval", "--checkpoint", str(tmp_path / "run"), "--threads", "1", "--json"], ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = json.loads(proc.stdout.strip().splitlines()[-1])
    assert again["mfcc_probe_acc"] == report["mfcc_probe_acc"]
    assert again["linear_probe_acc"] == pytest.approx(report["linear_probe_acc"])


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"
)
def test_make_speech_set(tmp_path):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from make_speech_set import make_speech_set
    finally:
        sys.path.pop(0)
    out = make_speech_set(tmp_path / "speech", voices=2, per_voice=2, seed=0)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav"))
    assert len(files) == 4
    assert len({f.split("/")[0] for f in files}) == 2
    import soundfile as sf

    wave, sr = sf.read(out / files[0])
    assert sr == 16000
    assert len(wave) > 1600
    assert np.abs(wave).max() > 0.01
    again = make_speech_set(tmp_path / "again", voices=2, per_voice=2, seed=0)
    assert (out / "manifest.json").read_text() == (again / "manifest.json").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert len({m["text"] for m in manifest}) == 4  # no text shared between utterances
    assert {m["voice"] for m in manifest} == {"en-us+m1", "en-us+m2"}  # one base voice, two variants
    for m in manifest:  # the same pitch and speed ranges for every voice
        assert 20 <= m["pitch"] <= 80
        assert 130 <= m["speed"] <= 200
        peak = np.abs(sf.read(out / m["file"])[0]).max()
        assert abs(20 * np.log10(peak) - m["channel"]["peak_dbfs"]) < 0.1  # random gain applied


def test_speech_set_channel_reaches_the_asked_snr():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from make_speech_set import degrade, sample_channel
    finally:
        sys.path.pop(0)
    sr = 16000
    t = np.arange(sr) / sr
    clean = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    channel = sample_channel(np.random.default_rng(3))
    channel.update(rt60_s=0.0, highpass_hz=20.0, lowpass_hz=7900.0, tilt_db_per_octave=0.0, peak_db=0.0)
    channel.update(snr_db=10.0, noise_colour=0.0)
    out = degrade(clean, sr, channel).astype(np.float64)
    assert out.shape == clean.shape
    spectrum = np.abs(np.fft.rfft(out)) ** 2
    tone = spectrum[435:446].sum()  # 1 Hz bins around 440 Hz
    snr = 10 * np.log10(tone / (spectrum.sum() - tone))
    assert abs(snr - 10.0) < 0.5
