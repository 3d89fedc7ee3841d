"""TS2Vec: the hierarchical loss against the reference code and slow loops, the method, weight averaging,
the series recipe (epochs, standardisation, centring, bad data) and the evaluation protocol."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from encoders.temporal import DilatedConvEncoder
from pairs.data.registry import DataBundle
from pairs.domains.series import (
    TS2VEC_RENORMALISED_UCR,
    CenterPadded,
    ChannelStandardizer,
    check_series_bundle,
    encode_series,
    evaluate_series,
    series_recipe,
    ts2vec_iterations,
    ts2vec_standardizer,
)
from pairs.losses.hierarchical import (
    HierarchicalContrastiveLoss,
    hierarchical_contrastive_loss,
    instance_contrastive_loss,
    temporal_contrastive_loss,
)
from pairs.methods import build_method
from pairs.methods.ts2vec import TS2Vec
from pairs.pairing import ViewBatch, ViewLoader
from pairs.train import TrainConfig, Trainer
from pairs.views.temporal import OverlappingCrops
from tests.reference_ts2vec import ref_hierarchical, ref_temporal

pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------------------------------
# References (the TS2Vec reference code itself: tests/reference_ts2vec.py)
# --------------------------------------------------------------------------------------------------
def loop_instance(z1, z2):
    """-log(exp(s_pos) / sum over the other 2B-1 series of exp(s)), averaged over timestamps and anchors."""
    b, t, _ = z1.shape
    terms = []
    for s in range(t):
        reps = [z1[i, s] for i in range(b)] + [z2[i, s] for i in range(b)]
        for a in range(2 * b):
            pos = (a + b) % (2 * b)
            denom = sum(torch.exp(torch.dot(reps[a], reps[j])) for j in range(2 * b) if j != a)
            terms.append(-torch.log(torch.exp(torch.dot(reps[a], reps[pos])) / denom))
    return sum(terms) / len(terms)


def loop_temporal(z1, z2):
    """-log(exp(s_pos) / sum over the other 2T-1 timestamps of the series), averaged: the instance loop
    with series and timestamps swapped (the same terms in the same order as a loop over series)."""
    return loop_instance(z1.transpose(0, 1), z2.transpose(0, 1))


def randn(*shape, seed, dtype=torch.float64, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)


# --------------------------------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------------------------------
def test_instance_and_temporal_losses_match_slow_loops():
    z1, z2 = randn(3, 4, 5, seed=0), randn(3, 4, 5, seed=1)
    assert instance_contrastive_loss(z1, z2).item() == pytest.approx(loop_instance(z1, z2).item(), rel=1e-12)
    assert temporal_contrastive_loss(z1, z2).item() == pytest.approx(loop_temporal(z1, z2).item(), rel=1e-12)


@pytest.mark.parametrize("shape", [(8, 37, 16), (1, 5, 3), (3, 1, 4), (4, 2, 8), (2, 64, 5), (5, 9, 7)])
@pytest.mark.parametrize("alpha, unit", [(0.5, 0), (0.2, 2), (0.0, 0), (1.0, 1), (0.7, 5)])
def test_hierarchical_loss_matches_reference_code_values_and_gradients(shape, alpha, unit):
    a, b = randn(*shape, seed=2), randn(*shape, seed=3)
    z1, z2 = a.clone().requires_grad_(), b.clone().requires_grad_()
    r1, r2 = a.clone().requires_grad_(), b.clone().requires_grad_()
    ours = hierarchical_contrastive_loss(z1, z2, alpha=alpha, temporal_unit=unit)
    ref = ref_hierarchical(r1, r2, alpha=alpha, temporal_unit=unit)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
    if ref.requires_grad:
        g_ours = torch.autograd.grad(ours, [z1, z2])
        g_ref = torch.autograd.grad(ref, [r1, r2])
        for x, y in zip(g_ours, g_ref, strict=True):
            torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)
    assert HierarchicalContrastiveLoss(alpha, unit)(a, b).item() == pytest.approx(ref.item(), abs=1e-12)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float16, 3e-3), (torch.bfloat16, 2e-2)])
def test_hierarchical_loss_in_low_precision(dtype, tol):
    a, b = randn(6, 20, 8, seed=4), randn(6, 20, 8, seed=5)
    z1, z2 = a.to(dtype).requires_grad_(), b.to(dtype).requires_grad_()
    ours = hierarchical_contrastive_loss(z1, z2)
    r1, r2 = a.to(dtype).double().requires_grad_(), b.to(dtype).double().requires_grad_()
    ref = ref_hierarchical(r1, r2)
    assert abs(ours.item() - ref.item()) <= tol * abs(ref.item())
    ours.backward()
    ref.backward()
    assert z1.grad.dtype == dtype
    scale = float(r1.grad.abs().max())
    assert float((z1.grad.double() - r1.grad).abs().max()) <= 10 * tol * scale


@pytest.mark.parametrize("shape", [(8, 37, 16), (3, 64, 5), (1, 9, 4), (5, 2, 3)])
@pytest.mark.parametrize("block", [(2, 50), 7, (16, 40)])
def test_hierarchical_loss_tiled_path_matches_reference_code(shape, block):
    """The tiled self-similarity path (tiles of 2, 7 and 16 timestamps / series, chunks of problems)
    gives the reference code's value and gradients in float64."""
    a, b = randn(*shape, seed=6), randn(*shape, seed=7)
    z1, z2 = a.clone().requires_grad_(), b.clone().requires_grad_()
    r1, r2 = a.clone().requires_grad_(), b.clone().requires_grad_()
    ours = hierarchical_contrastive_loss(z1, z2, alpha=0.3, mode="tiled", block_size=block)
    ref = ref_hierarchical(r1, r2, alpha=0.3)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
    g_ours = torch.autograd.grad(ours, [z1, z2])
    g_ref = torch.autograd.grad(ref, [r1, r2])
    for x, y in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)


def test_temporal_loss_tiled_in_float32_with_large_representations():
    """Unnormalised representations of norm up to ~20 (logits in the hundreds, spread wider than a tile
    rescaling allows): the float32 tiled temporal loss and its gradient stay within 1e-5 of float64."""
    g = torch.Generator().manual_seed(3)
    a = torch.randn(3, 150, 8, generator=g, dtype=torch.float64) * torch.linspace(0.1, 7, 150)[None, :, None]
    b = a + 0.3 * torch.randn(3, 150, 8, generator=g, dtype=torch.float64)
    z1, z2 = a.float().requires_grad_(), b.float().requires_grad_()
    r1, r2 = a.float().double().requires_grad_(), b.float().double().requires_grad_()
    ours = temporal_contrastive_loss(z1, z2, mode="tiled", block_size=64)
    ref = ref_temporal(r1, r2)
    assert abs(ours.item() - ref.item()) <= 1e-5 * abs(ref.item())
    for x, y in zip(torch.autograd.grad(ours, [z1, z2]), torch.autograd.grad(ref, [r1, r2]), strict=True):
        assert float((x.double() - y).abs().max()) <= 1e-5 * float(y.abs().max())


def test_auto_mode_tiles_the_large_terms_only(monkeypatch):
    from pairs.losses import tiled

    used = []
    real = tiled._SelfTiledLogSumExp.apply
    monkeypatch.setattr(tiled._SelfTiledLogSumExp, "apply", lambda *a: used.append(a[0].shape) or real(*a))
    a, b = randn(2, 40, 3, seed=8), randn(2, 40, 3, seed=9)
    hierarchical_contrastive_loss(a, b)
    assert used == []  # (2, 80, 80) and (40, 4, 4) float64: dense
    monkeypatch.setattr(tiled, "AUTO_DENSE_MAX_BYTES", 2 * 80 * 80 * 8 - 1)
    hierarchical_contrastive_loss(a, b)
    assert used == [(2, 80, 3)]  # only the temporal term of the first scale is above the switch


def test_loss_rejects_bad_input():
    z = torch.randn(2, 5, 3)
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        hierarchical_contrastive_loss(torch.randn(2, 5), torch.randn(2, 5))
    with pytest.raises(ValueError, match="same shape"):
        hierarchical_contrastive_loss(z, torch.randn(2, 4, 3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        hierarchical_contrastive_loss(z, z.numpy())
    with pytest.raises(TypeError, match="floating point"):
        instance_contrastive_loss(z.long(), z.long())
    with pytest.raises(ValueError, match="alpha"):
        hierarchical_contrastive_loss(z, z, alpha=1.5)
    with pytest.raises(ValueError, match="temporal_unit"):
        hierarchical_contrastive_loss(z, z, temporal_unit=-1)


# --------------------------------------------------------------------------------------------------
# Method
# --------------------------------------------------------------------------------------------------
def tiny_encoder(channels: int = 2, seed: int = 0) -> DilatedConvEncoder:
    torch.manual_seed(seed)
    return DilatedConvEncoder(in_channels=channels, hidden=8, out_dim=12, depth=2)


def crop_batch(x: torch.Tensor, seed: int = 0) -> ViewBatch:
    pair = OverlappingCrops()(x, generator=seed)
    return ViewBatch([pair], None, torch.arange(len(x)))


def test_method_loss_is_the_hierarchical_loss_of_the_aligned_overlap():
    x = randn(6, 2, 40, seed=6, dtype=torch.float32, scale=1.0)
    method = build_method("ts2vec", tiny_encoder()).eval()  # eval: no timestamp mask, no dropout
    batch = crop_batch(x, seed=3)
    pair = batch.views[0]
    out = method(batch)
    enc = method.encoder
    a = enc(pair.first, pooled=False)[:, -pair.overlap :]
    b = enc(pair.second, pooled=False)[:, : pair.overlap]
    assert out["loss"].item() == pytest.approx(ref_hierarchical(a, b).item(), rel=1e-5)
    assert out["embeddings"].shape == (12, 12)
    torch.testing.assert_close(out["embeddings"][:6], a.amax(dim=1))
    # the shared region really is the same timestamps of the input
    torch.testing.assert_close(pair.first[..., -pair.overlap :], pair.second[..., : pair.overlap])


def test_method_trains_masks_and_rejects_wrong_views():
    x = randn(6, 2, 40, seed=7, dtype=torch.float32, scale=1.0)
    method = TS2Vec(tiny_encoder()).train()
    torch.manual_seed(0)
    out = method(crop_batch(x))
    out["loss"].backward()
    grads = [p.grad for p in method.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(p.grad is None for p in method.averaged_encoder.parameters())  # the average is not trained
    torch.manual_seed(0)
    again = method(crop_batch(x))["loss"]
    torch.manual_seed(1)
    other = method(crop_batch(x))["loss"]
    assert again.item() == pytest.approx(out["loss"].item())
    assert other.item() != out["loss"].item()
    with pytest.raises(TypeError, match="CropPair"):
        method(ViewBatch([x], None, torch.arange(6)))
    with pytest.raises(TypeError, match="per timestamp"):
        TS2Vec(torch.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="alpha"):
        TS2Vec(tiny_encoder(), alpha=2.0)


def test_weight_average_matches_torch_swa_and_is_loaded_at_the_end():
    method = TS2Vec(tiny_encoder())
    reference = torch.optim.swa_utils.AveragedModel(method.encoder)  # what TS2Vec keeps
    reference.update_parameters(method.encoder)
    opt = torch.optim.SGD(method.encoder.parameters(), lr=0.1)
    x = randn(4, 2, 30, seed=8, dtype=torch.float32, scale=1.0)
    for step in range(1, 4):
        opt.zero_grad()
        method(crop_batch(x, seed=step))["loss"].backward()
        opt.step()
        reference.update_parameters(method.encoder)
        method.on_after_optimizer_step(step / 4)
    current = [p.detach().clone() for p in method.encoder.parameters()]
    for ours, ref in zip(method.averaged_encoder.parameters(), reference.module.parameters(), strict=True):
        torch.testing.assert_close(ours, ref)
    assert int(method.n_averaged) == 4
    assert any(
        not torch.equal(c, a) for c, a in zip(current, method.averaged_encoder.parameters(), strict=True)
    )
    opt.zero_grad()
    method(crop_batch(x, seed=9))["loss"].backward()
    opt.step()
    reference.update_parameters(method.encoder)
    method.on_after_optimizer_step(1.0)  # the last step: the encoder takes the averaged weights
    for enc, ref in zip(method.encoder.parameters(), reference.module.parameters(), strict=True):
        torch.testing.assert_close(enc, ref)


def test_trainer_runs_ts2vec_reproducibly():
    x = randn(16, 2, 24, seed=9, dtype=torch.float32, scale=1.0)

    def run() -> tuple[float, torch.Tensor]:
        method = TS2Vec(tiny_encoder(seed=1))
        config = TrainConfig(epochs=2, lr=1e-3, warmup_epochs=0, progress=False, seed=3, device="cpu")
        loader = ViewLoader(x, OverlappingCrops(), n_views=1, batch_size=8, seed=3)
        result = Trainer(method, config).fit(loader)
        return result.final_loss, next(method.encoder.parameters()).detach().clone()

    (loss_a, w_a), (loss_b, w_b) = run(), run()
    assert math.isfinite(loss_a)
    assert loss_a == loss_b
    assert torch.equal(w_a, w_b)


# --------------------------------------------------------------------------------------------------
# Recipe and evaluation
# --------------------------------------------------------------------------------------------------
def bundle_of(train, test=None, y_train=None, y_test=None, spec="series:test", variable=False) -> DataBundle:
    info = {"variable_length": variable}
    return DataBundle(spec, "series", train, y_train, test, y_test, info)


@pytest.mark.parametrize(
    "n, t, c, epochs", [(50, 150, 1, 34), (67, 24, 1, 25), (270, 29, 12, 7), (40, 100, 6, 40)]
)
def test_recipe_sizes_epochs_to_ts2vec_iterations(n, t, c, epochs):
    recipe = series_recipe(bundle_of(torch.randn(n, c, t)))
    steps = n // 8
    assert recipe.epochs == epochs == math.ceil(200 / steps)
    assert recipe.batch_size == 8
    assert recipe.method == "ts2vec"
    assert recipe.encoder == "dilated_conv"
    assert recipe.epochs * steps >= 200 > (recipe.epochs - 1) * steps
    assert recipe.max_steps == 200
    assert recipe.decay_all_parameters  # TS2Vec's n_iters, plain AdamW
    assert recipe.encoder_kwargs(bundle_of(torch.randn(n, c, t)))["in_channels"] == c


def test_iterations_follow_ts2vec_size_rule():
    assert ts2vec_iterations(bundle_of(torch.randn(1000, 1, 100))) == 200  # 100,000 values
    assert ts2vec_iterations(bundle_of(torch.randn(1001, 1, 100))) == 600
    recipe = series_recipe(bundle_of(torch.randn(1001, 1, 100)))
    assert recipe.epochs == math.ceil(600 / 125)


def test_standardizer_matches_sklearn_with_nan():
    from sklearn.preprocessing import StandardScaler

    x = randn(7, 3, 11, seed=10, dtype=torch.float32, scale=3.0) + torch.tensor([1.0, -2.0, 5.0])[:, None]
    x[2, :, 8:] = float("nan")
    x[4, 1, 3] = float("nan")
    std = ChannelStandardizer.fit(x)
    flat = x.transpose(1, 2).reshape(-1, 3).numpy().astype(np.float64)  # TS2Vec's (N*T, C) layout
    expected = StandardScaler().fit(flat).transform(flat).reshape(7, 11, 3).transpose(0, 2, 1)
    got = std(x).double().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, equal_nan=True)
    with pytest.raises(ValueError, match="channels"):
        std(torch.randn(2, 2, 5))


def test_center_padded_matches_ts2vec_centerize():
    def ref(x):  # utils.centerize_vary_length_series, (N, T, C) layout
        prefix_zeros = np.argmax(~np.isnan(x).all(axis=-1), axis=1)
        suffix_zeros = np.argmax(~np.isnan(x[:, ::-1]).all(axis=-1), axis=1)
        offset = (prefix_zeros + suffix_zeros) // 2 - prefix_zeros
        rows, column_indices = np.ogrid[: x.shape[0], : x.shape[1]]
        offset[offset < 0] += x.shape[1]
        column_indices = column_indices - offset[:, np.newaxis]
        return x[rows, column_indices]

    x = torch.randn(5, 2, 12)
    x[0, :, 7:] = float("nan")
    x[1, :, :3] = float("nan")
    x[2, :, :2] = float("nan")
    x[2, :, 9:] = float("nan")
    x[3, 0, 5] = float("nan")  # one channel missing: not padding
    got = CenterPadded()(x, generator=0)
    expected = ref(x.transpose(1, 2).numpy()).transpose(0, 2, 1)
    np.testing.assert_array_equal(got.numpy(), expected)


def test_bad_series_data_gets_clear_errors():
    x = torch.randn(10, 1, 20)
    x[3] = float("nan")
    with pytest.raises(ValueError, match="train series 3 are NaN everywhere"):
        check_series_bundle(bundle_of(x))
    with pytest.raises(ValueError, match="at least 2"):
        series_recipe(bundle_of(torch.randn(10, 1, 1)))
    with pytest.raises(ValueError, match=r"\(N, C, T\)"):
        series_recipe(bundle_of(torch.randn(10, 20)))
    test = torch.randn(4, 1, 20)
    test[1] = float("nan")
    with pytest.raises(ValueError, match="test series 1"):
        series_recipe(bundle_of(torch.randn(10, 1, 20), test))


def test_recipe_views_make_crop_pairs_and_plain_views():
    x = torch.randn(16, 2, 30) * 4 + 3
    x[0, :, 20:] = float("nan")
    bundle = bundle_of(x, variable=True)
    recipe = series_recipe(bundle)
    pair = recipe.make_view("ts2vec", bundle)(x, generator=0)
    assert pair.first.shape[:2] == (16, 2)
    assert pair.overlap >= 2
    plain = recipe.make_view("default", bundle)(x, generator=0)
    assert plain.shape[:2] == (16, 2)
    assert float(plain[1:].nan_to_num().abs().mean()) < 2.0  # standardised, not raw (mean 3, std 4)
    long = bundle_of(torch.randn(8, 1, 3100))
    pair = series_recipe(long).make_view("ts2vec", long)(long.train, 0)
    assert pair.first.shape[-1] <= 3000
    assert pair.second.shape[-1] <= 3000


def test_evaluate_series_reports_the_protocol_figures():
    g = torch.Generator().manual_seed(11)
    y = torch.arange(60) % 3
    x = torch.randn(60, 2, 32, generator=g) * 0.3 + y[:, None, None].float()
    bundle = bundle_of(x[:40], x[40:], y[:40], y[40:])
    figures = evaluate_series(tiny_encoder(), bundle, "cpu")
    assert set(figures) >= {"svm_acc", "linear_probe_acc", "knn_acc", "svm_C", "probe_C"}
    assert all(0.0 <= figures[k] <= 1.0 for k in ("svm_acc", "linear_probe_acc", "knn_acc"))
    assert figures["svm_acc"] > 0.8  # the classes differ in mean: an easy problem even untrained
    # knn_acc is TS2Vec's fit_knn: StandardScaler + 1-NN on the max-pooled features
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    enc = tiny_encoder()
    std = ChannelStandardizer.fit(bundle.train)
    ftr, fte = (encode_series(enc, s, std).double().numpy() for s in (bundle.train, bundle.test))
    knn = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=1)).fit(ftr, y[:40].numpy())
    assert figures["knn_acc"] == pytest.approx(knn.score(fte, y[40:].numpy()))
    assert evaluate_series(tiny_encoder(), bundle_of(x[:40]), "cpu") == {}


# --------------------------------------------------------------------------------------------------
# Faithfulness to the reference protocol: TS2Vec's fit_svm and its input normalisation
# --------------------------------------------------------------------------------------------------
def ref_fit_svm(features, y):
    """A transcription of ``tasks/_eval_protocols.fit_svm`` of zhihanyue/ts2vec (without subsampling)."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    nb_classes = np.unique(y, return_counts=True)[1].shape[0]
    train_size = features.shape[0]
    svm = SVC(C=np.inf, gamma="scale")
    if train_size // nb_classes < 5 or train_size < 50:
        return svm.fit(features, y), None
    grid = {"C": [0.0001, 0.001, 0.01, 0.1, 1, 10, 100, 1000, 10000, np.inf], "kernel": ["rbf"]}
    search = GridSearchCV(svm, grid, cv=5).fit(features, y)
    return search.best_estimator_, search.best_params_["C"]


def _blobs(n: int, k: int, d: int = 6, spread: float = 1.6, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centres = rng.normal(size=(k, d))
    return centres[y] + spread * rng.normal(size=(n, d)), y


@pytest.mark.parametrize(
    "n, k, searched",
    [
        (49, 2, False),
        (50, 2, True),
        (50, 10, True),
        (54, 11, False),
        (60, 13, False),
        (67, 2, True),
        (36, 3, False),
    ],
)
def test_svm_protocol_picks_C_as_ts2vec_fit_svm(n, k, searched):
    from pairs.eval import svm_accuracy

    x, y = _blobs(n + 40, k, seed=n + k)
    ref, ref_c = ref_fit_svm(x[:n], y[:n])
    out = svm_accuracy(x[:n], y[:n], x[n:], y[n:], shuffle=False)
    assert (out["C_source"] == "cv") == searched == (ref_c is not None)
    assert out["C"] == (ref_c if searched else math.inf)
    assert out["acc"] == pytest.approx(ref.score(x[n:], y[n:]))


def test_unshuffled_folds_do_not_depend_on_the_seed():
    # TS2Vec passes cv=5: consecutive stratified folds, whatever the seed (shuffled folds chose C=1
    # instead of 10 on ItalyPowerDemand and cost it 4 points)
    from pairs.eval import svm_accuracy

    x, y = _blobs(67 + 200, 2, d=4, spread=2.0, seed=3)
    chosen = {
        svm_accuracy(x[:67], y[:67], x[67:], y[67:], shuffle=shuffle, seed=seed)["C"]
        for shuffle, seed in [(False, 0), (False, 1)]
    }
    assert chosen == {ref_fit_svm(x[:67], y[:67])[1]}  # no seed in the unshuffled protocol


def test_every_installed_univariate_set_that_is_not_z_normalised_gets_standardised():
    """TS2Vec uses a univariate UCR set as is only when the archive z-normalised every series."""
    from pairs.data import load_data
    from pairs.data.series import available_ucr, ucr_task

    checked = 0
    for name in available_ucr():
        if ucr_task(name) != "classification":
            continue
        bundle = load_data(f"ucr:{name}")
        if bundle.train.shape[1] != 1:
            continue  # multivariate (UEA): always standardised per channel
        x = bundle.train[:, 0].double()  # (N, T), NaN-padded when lengths vary (PLAID)
        n = (~x.isnan()).sum(dim=1)
        mean = x.nanmean(dim=1)
        std = (x - mean[:, None]).pow(2).nansum(dim=1).div(n).sqrt()
        unbiased = std * (n / (n - 1)).sqrt()  # the archive uses either
        z_normalised = bool(
            mean.abs().max() < 1e-3 and torch.minimum((std - 1).abs(), (unbiased - 1).abs()).max() < 0.01
        )
        assert (ts2vec_standardizer(bundle) is None) == z_normalised, name
        checked += 1
    assert checked >= 4  # ArrowHead, GunPoint, ItalyPowerDemand, OSULeaf, ... in sktime's wheel


def test_ts2vec_standardizer_follows_load_ucr_and_load_uea():
    g = torch.Generator().manual_seed(5)
    uni = torch.randn(20, 1, 30, generator=g) * 3 + 2
    multi = torch.randn(20, 3, 30, generator=g) * 3 + 2
    assert ts2vec_standardizer(bundle_of(uni, spec="ucr:ArrowHead")) is None  # load_UCR: as published
    assert "PowerCons" in TS2VEC_RENORMALISED_UCR
    assert "ItalyPowerDemand" not in TS2VEC_RENORMALISED_UCR
    renorm = ts2vec_standardizer(bundle_of(uni, spec="ucr:PowerCons"))
    x = uni.double().numpy()
    assert renorm is not None
    assert float(renorm.mean[0]) == pytest.approx(np.nanmean(x))
    assert float(renorm.std[0]) == pytest.approx(np.nanstd(x))
    for spec in ("ucr:BasicMotions", "series:file.npy"):  # load_UEA: StandardScaler per channel
        std = ts2vec_standardizer(bundle_of(multi, spec=spec))
        assert std is not None
        assert std.mean.numel() == 3
    assert ts2vec_standardizer(bundle_of(uni, spec="series:file.npy")) is not None
    # the recipe's views leave a UCR set as published: the crops are crops of the raw series
    for spec, standardised in (("ucr:ArrowHead", False), ("series:file.npy", True)):
        bundle = bundle_of(uni, spec=spec)
        pair, params = series_recipe(bundle).make_view("ts2vec", bundle)(uni, generator=0, return_params=True)
        crops = OverlappingCrops().replay(uni, params["views"][-1])
        assert torch.equal(pair.first, crops.first) != standardised


def test_evaluate_series_uses_ts2vec_fit_svm_on_unnormalised_ucr_series():
    g = torch.Generator().manual_seed(12)
    y = torch.arange(130) % 2
    x = torch.randn(130, 1, 24, generator=g) + 0.4 * y[:, None, None].float()
    bundle = bundle_of(x[:70], x[70:], y[:70], y[70:], spec="ucr:ItalyPowerDemand")
    figures = evaluate_series(tiny_encoder(channels=1), bundle, "cpu")
    enc = tiny_encoder(channels=1)
    ftr, fte = (encode_series(enc, s).double().numpy() for s in (bundle.train, bundle.test))
    ref, ref_c = ref_fit_svm(ftr, y[:70].numpy())
    assert figures["svm_C"] == ref_c
    assert figures["svm_acc"] == pytest.approx(ref.score(fte, y[70:].numpy()))
