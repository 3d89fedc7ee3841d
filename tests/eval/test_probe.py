"""Linear and SVM probes against direct scikit-learn references, and feature extraction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from threadpoolctl import threadpool_limits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pairs.eval import extract_features, linear_probe, svm_accuracy, svm_cv_accuracy
from pairs.eval.probe import TS2VEC_SVM_C_GRID
from tests.helpers import gaussian_blobs as blobs


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """The sklearn references run single-threaded, as the probes do (small problems, shared cores)."""
    with threadpool_limits(limits=1):
        yield


# --------------------------------------------------------------------------------------------------
# Linear probe
# --------------------------------------------------------------------------------------------------
def test_linear_probe_separated_clusters():
    x, y = blobs(30, 4, 16, spread=0.05, seed=0)
    out = linear_probe(x[:80].astype(np.float32), y[:80], x[80:], y[80:])
    assert out["acc"] == 1.0 and out["C_source"] == "cv" and out["cv_acc"] == 1.0
    assert out["converged"]


def test_linear_probe_given_C_equals_sklearn_pipeline():
    x, y = blobs(40, 3, 10, spread=1.5, seed=1)
    out = linear_probe(x[:90], y[:90], x[90:], y[90:], C=0.3)
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=1000)).fit(x[:90], y[:90])
    assert out["acc"] == pytest.approx(ref.score(x[90:], y[90:]))
    assert out["C"] == 0.3 and out["C_source"] == "given" and out["cv_acc"] is None
    raw = linear_probe(x[:90], y[:90], x[90:], y[90:], C=0.3, standardize=False)
    ref = LogisticRegression(C=0.3, max_iter=1000).fit(x[:90], y[:90])
    assert raw["acc"] == pytest.approx(ref.score(x[90:], y[90:]))


def test_linear_probe_cv_choice_matches_cold_start_reference():
    # informative dims + many noise dims: too little regularisation overfits, so the grid matters
    rng = np.random.default_rng(2)
    x, y = blobs(40, 3, 4, spread=1.0, seed=2)
    x = np.hstack([x, rng.normal(size=(len(x), 60))])
    grid = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
    out = linear_probe(x[:100], y[:100], x[100:], y[100:], C_grid=grid, folds=5, seed=3)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=3)
    ref = [
        cross_val_score(
            make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000)), x[:100], y[:100], cv=cv
        ).mean()
        for c in grid
    ]
    assert out["C_source"] == "cv"
    # warm starts reach the same optima up to the solver tolerance
    assert out["cv_acc"] == pytest.approx(ref[grid.index(out["C"])], abs=0.011)
    assert out["cv_acc"] >= max(ref) - 0.011
    assert out["C"] < 10.0  # the noisy dims punish the weakest regularisation


def test_linear_probe_never_uses_test_split_for_selection():
    x, y = blobs(30, 3, 20, spread=2.0, seed=4)
    a = linear_probe(x[:60], y[:60], x[60:], y[60:], seed=1)
    rng = np.random.default_rng(0)
    b = linear_probe(x[:60], y[:60], rng.normal(size=(30, 20)), rng.integers(0, 3, 30), seed=1)
    assert (a["C"], a["cv_acc"]) == (b["C"], b["cv_acc"])
    assert linear_probe(x[:60], y[:60], x[60:], y[60:], seed=1) == a  # deterministic


def test_linear_probe_falls_back_without_cv():
    x, y = blobs(10, 3, 5, spread=0.1, seed=5)
    y_train = y[:20].copy()
    y_train[0] = 7  # a class with a single training sample: no stratified CV possible
    out = linear_probe(x[:20], y_train, x[20:], y[20:])
    assert out["C_source"] == "default" and out["C"] == 1.0 and out["cv_acc"] is None


def test_linear_probe_bad_inputs():
    x, y = blobs(10, 2, 4, spread=1.0, seed=6)
    with pytest.raises(ValueError, match="single class"):
        linear_probe(x, np.zeros(20, dtype=int), x, y)
    with pytest.raises(ValueError, match="same feature size"):
        linear_probe(x, y, x[:, :3], y)
    with pytest.raises(ValueError, match="C must be a positive number"):
        linear_probe(x, y, x, y, C=0)
    with pytest.raises(ValueError, match="C_grid"):
        linear_probe(x, y, x, y, C_grid=())
    with pytest.raises(ValueError, match="C_grid"):
        linear_probe(x, y, x, y, C_grid=(1.0, -1.0))
    bad = x.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="4 NaN"):
        linear_probe(x, y, bad, y)
    with pytest.raises(ValueError, match="test_y has 19 entries"):
        linear_probe(x, y, x, y[:19])
    with pytest.raises(TypeError, match="integer class labels"):
        linear_probe(x, y.astype(np.float32), x, y)


# --------------------------------------------------------------------------------------------------
# SVM protocols
# --------------------------------------------------------------------------------------------------
def _infograph_reference(x, y, folds, grid, kernel, inner, seed):
    """InfoGraph's svc_classify / linearsvc_classify, with seeded splitters."""
    accs = []
    for tr, te in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        est = SVC() if kernel == "rbf" else LinearSVC(max_iter=10_000, random_state=seed)
        search = GridSearchCV(
            est,
            {"C": list(grid)},
            cv=StratifiedKFold(inner, shuffle=True, random_state=seed),
            scoring="accuracy",
        ).fit(x[tr], y[tr])
        accs.append(search.score(x[te], y[te]))
    return np.mean(accs), np.std(accs)


@pytest.mark.parametrize("kernel", ["rbf", "linear"])
def test_svm_cv_accuracy_matches_infograph_protocol(kernel):
    x, y = blobs(20, 3, 6, spread=1.5, seed=7)
    grid = (0.01, 1.0, 100.0)
    out = svm_cv_accuracy(x, y, folds=4, C_grid=grid, kernel=kernel, inner_folds=3, seed=2)
    mean, std = _infograph_reference(x, y, 4, grid, kernel, 3, 2)
    assert out["mean"] == pytest.approx(mean) and out["std"] == pytest.approx(std)
    assert len(out["fold_acc"]) == 4 and set(out["fold_C"]) <= set(grid)
    assert out["folds_without_search"] == 0


def test_svm_cv_accuracy_separated_and_errors():
    x, y = blobs(12, 3, 5, spread=0.05, seed=8)
    out = svm_cv_accuracy(x, y, folds=3, C_grid=(1.0, 10.0))
    assert out["mean"] == 1.0 and out["std"] == 0.0
    with pytest.raises(ValueError, match="smallest class has 12 samples, fewer than folds=13"):
        svm_cv_accuracy(x, y, folds=13)
    with pytest.raises(ValueError, match="kernel must be one of"):
        svm_cv_accuracy(x, y, folds=3, kernel="poly")
    with pytest.raises(ValueError, match="at least 2"):
        svm_cv_accuracy(x, y, folds=1)


def test_svm_accuracy_cv_matches_gridsearch():
    x, y = blobs(40, 3, 6, spread=1.5, seed=9)
    grid = (0.01, 1.0, 100.0, math.inf)
    out = svm_accuracy(x[:90], y[:90], x[90:], y[90:], C_grid=grid, folds=5, seed=4)
    ref = GridSearchCV(
        SVC(kernel="rbf", gamma="scale"),
        {"C": list(grid)},
        cv=StratifiedKFold(5, shuffle=True, random_state=4),
    ).fit(x[:90], y[:90])
    assert out["C_source"] == "cv" and out["note"] is None
    assert out["C"] == ref.best_params_["C"]
    assert out["acc"] == pytest.approx(ref.score(x[90:], y[90:]))


def test_svm_accuracy_small_train_falls_back_and_says_so():
    x, y = blobs(8, 3, 4, spread=0.5, seed=10)  # 24 samples < 50: TS2Vec uses SVC(C=inf)
    out = svm_accuracy(x[:15], y[:15], x[15:], y[15:])
    assert out["C_source"] == "fallback" and out["C"] == math.inf
    assert "too small" in out["note"]
    ref = SVC(C=math.inf, gamma="scale").fit(x[:15], y[:15])
    assert out["acc"] == pytest.approx(ref.score(x[15:], y[15:]))
    sep_x, sep_y = blobs(10, 2, 4, spread=0.01, seed=11)
    assert svm_accuracy(sep_x[:12], sep_y[:12], sep_x[12:], sep_y[12:])["acc"] == 1.0


def test_svm_accuracy_bad_inputs():
    x, y = blobs(10, 2, 4, spread=1.0, seed=12)
    with pytest.raises(ValueError, match="single class"):
        svm_accuracy(x, np.ones(20, dtype=int), x, y)
    with pytest.raises(ValueError, match="C must be a positive number"):
        svm_accuracy(x, y, x, y, fallback_C=-1.0)
    with pytest.raises(ValueError, match="max_samples"):
        svm_accuracy(x, y, x, y, max_samples=0)
    with pytest.raises(ValueError, match="needs finite C"):
        svm_accuracy(x, y, x, y, kernel="linear", fallback_C=math.inf)


def test_svm_accuracy_linear_kernel_defaults():
    x, y = blobs(30, 2, 4, spread=0.5, seed=13)
    small = svm_accuracy(x[:20], y[:20], x[20:], y[20:], kernel="linear")
    assert small["C_source"] == "fallback" and small["C"] == 1e4
    large = svm_accuracy(x[:50], y[:50], x[50:], y[50:], kernel="linear", seed=1)
    assert large["C_source"] == "cv" and math.isfinite(large["C"])
    ref = GridSearchCV(
        LinearSVC(max_iter=10_000, random_state=1),
        {"C": [c for c in TS2VEC_SVM_C_GRID if math.isfinite(c)]},
        cv=StratifiedKFold(5, shuffle=True, random_state=1),
    ).fit(x[:50], y[:50])
    assert large["C"] == ref.best_params_["C"]


# --------------------------------------------------------------------------------------------------
# Feature extraction
# --------------------------------------------------------------------------------------------------
class _Recorder(nn.Module):
    """A linear encoder that records its mode and input batch sizes."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.out_dim = 3
        self.calls: list[tuple[bool, int, bool]] = []

    def forward(self, x):
        self.calls.append((self.training, len(x), torch.is_grad_enabled()))
        return self.fc(x)


def test_extract_features_tensor_dataset_list_and_loader():
    torch.manual_seed(0)
    enc = _Recorder().train()
    x = torch.randn(10, 4, dtype=torch.float64)
    ref = enc.fc(x.float()).detach()
    feats = extract_features(enc, x.float(), batch_size=4)
    assert feats.dtype == torch.float32 and feats.device.type == "cpu"
    torch.testing.assert_close(feats, ref)
    assert [c[1] for c in enc.calls] == [4, 4, 2]
    assert all(not training and not grad for training, _, grad in enc.calls)
    assert enc.training  # mode restored
    ds = TensorDataset(x.float(), torch.arange(10))
    torch.testing.assert_close(extract_features(enc, ds, batch_size=3), ref)
    torch.testing.assert_close(extract_features(enc, [x[i].float() for i in range(10)]), ref)
    loader = DataLoader(ds, batch_size=6, shuffle=False)
    torch.testing.assert_close(extract_features(enc, loader), ref)
    # transform applied per batch (here: a dtype conversion acting as the collate step)
    torch.testing.assert_close(extract_features(enc, x, transform=lambda b: b.float()), ref)


def test_extract_features_list_of_non_tensors_uses_transform():
    enc = _Recorder()
    rows = [[float(i)] * 4 for i in range(5)]
    feats = extract_features(enc, rows, batch_size=2, transform=lambda batch: torch.tensor(batch))
    torch.testing.assert_close(feats, enc.fc(torch.tensor(rows)).detach())


def test_extract_features_errors():
    enc = _Recorder()
    with pytest.raises(ValueError, match="batch_size"):
        extract_features(enc, torch.randn(3, 4), batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        extract_features(enc, [])
    with pytest.raises(TypeError, match="DataLoader"):
        extract_features(enc, 5)
    with pytest.raises(ValueError, match=r"expected \(B, D\)"):
        extract_features(lambda b: b[:, None], torch.randn(3, 4))
    with pytest.raises(TypeError, match="expected a \\(B, D\\) tensor"):
        extract_features(lambda b: b.tolist(), torch.randn(3, 4))
    enc.train()
    with pytest.raises(RuntimeError):
        extract_features(enc, torch.randn(3, 5))  # the linear layer rejects the size
    assert enc.training


def test_end_to_end_digits_probe_and_knn():
    """Random SmallCNN features of sklearn digits are far above chance (0.1) for the probe and kNN."""
    from sklearn.datasets import load_digits

    import encoders
    from pairs.eval import knn_accuracy

    digits = load_digits()
    images = torch.from_numpy(digits.images[:600]).float().unsqueeze(1) / 16.0
    labels = digits.target[:600]
    torch.manual_seed(0)
    net = encoders.get("small_cnn", width=8, norm="group")
    feats = extract_features(net, images, batch_size=128)
    assert feats.shape == (600, 32)
    probe = linear_probe(feats[:400], labels[:400], feats[400:], labels[400:])
    assert probe["acc"] > 0.4  # 0.545 measured; raw pixels give 0.83, a trained encoder more
    assert knn_accuracy(feats[:400], labels[:400], feats[400:], labels[400:], k=10, temperature=0.07) > 0.35
