"""Linear and SVM probes of frozen features (scikit-learn).

* :func:`linear_probe`: multinomial logistic regression (L-BFGS) on standardised features, with ``C``
  chosen by stratified k-fold cross-validation on the training split only (the linear evaluation
  protocol of SimCLR, Chen et al. 2020, with a small regularisation grid as in their appendix B.5).
* :func:`svm_cv_accuracy`: the graph-level protocol of InfoGraph (Sun et al. 2020) and GraphCL (You et
  al. 2020): 10-fold stratified cross-validation of an SVM whose ``C`` is chosen by an inner
  cross-validation on each training fold; reports mean and std of the fold accuracies.
* :func:`svm_accuracy`: the time-series protocol of TS2Vec (Yue et al. 2022): an RBF SVM on the train
  split with ``C`` chosen by cross-validation on the train split, evaluated on the test split; when the
  train split is too small for cross-validation a fixed ``C`` is used (and the result says so).

Every function converts inputs with :func:`pairs.eval.metrics.as_features` / ``as_labels``, never uses
the test split for model selection, and is deterministic given ``seed``. The fits run with one BLAS/OpenMP
thread (``threadpoolctl``): these problems are small, and on a busy machine multi-threaded BLAS made the
L-BFGS fits 10-30x slower through oversubscription.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from threadpoolctl import threadpool_limits

from pairs.eval.metrics import as_features, as_labels, check_positive_int

__all__ = [
    "linear_probe",
    "svm_cv_accuracy",
    "svm_accuracy",
    "LOGREG_C_GRID",
    "GRAPH_SVM_C_GRID",
    "TS2VEC_SVM_C_GRID",
]

LOGREG_C_GRID: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
"""Inverse regularisation strengths tried by :func:`linear_probe` (``10**[-3..2]``)."""

GRAPH_SVM_C_GRID: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
"""The ``C`` grid of InfoGraph/GraphCL's ``svc_classify``."""

TS2VEC_SVM_C_GRID: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0, 1e4, math.inf)
"""The ``C`` grid of TS2Vec's ``fit_svm`` (``C = inf`` is a hard margin)."""

_KERNELS = ("rbf", "linear")


def _single_threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` with one BLAS/OpenMP thread (small problems; avoids oversubscription)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------------
def _xy(x: Any, y: Any, xname: str, yname: str) -> tuple[np.ndarray, np.ndarray]:
    xt = as_features(x, xname)
    yt = as_labels(y, yname, n=xt.shape[0])
    return xt.cpu().numpy().astype(np.float64, copy=False), yt.cpu().numpy()


def _split(
    train_x: Any, train_y: Any, test_x: Any, test_y: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xtr, ytr = _xy(train_x, train_y, "train_x", "train_y")
    xte, yte = _xy(test_x, test_y, "test_x", "test_y")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(
            f"train_x and test_x must have the same feature size, got D={xtr.shape[1]} and D={xte.shape[1]}"
        )
    _check_classes(ytr, "train_y")
    return xtr, ytr, xte, yte


def _check_classes(y: np.ndarray, name: str) -> np.ndarray:
    counts = np.unique(y, return_counts=True)[1]
    if len(counts) < 2:
        raise ValueError(
            f"{name} holds a single class ({len(y)} samples); a classifier needs at least 2 classes"
        )
    return counts


def _check_grid(grid: Any, name: str) -> tuple[float, ...]:
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or len(grid) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of positive numbers, got {grid!r}")
    out = []
    for c in grid:
        if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)) or not c > 0:
            raise ValueError(f"{name} must hold positive numbers (C > 0), got {c!r}")
        out.append(float(c))
    return tuple(sorted(out))


def _check_C(C: Any) -> float:
    if isinstance(C, bool) or not isinstance(C, (int, float, np.integer, np.floating)) or not C > 0:
        raise ValueError(f"C must be a positive number or None (choose by cross-validation), got {C!r}")
    return float(C)


def _fit_counting_warnings(model: Any, x: np.ndarray, y: np.ndarray) -> int:
    """Fit ``model`` and return how many ConvergenceWarnings it raised (instead of printing them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    return sum(issubclass(w.category, ConvergenceWarning) for w in caught)


# --------------------------------------------------------------------------------------------------
# Linear probe
# --------------------------------------------------------------------------------------------------
def _logreg_cv(
    x: np.ndarray,
    y: np.ndarray,
    grid: tuple[float, ...],
    folds: int,
    max_iter: int,
    standardize: bool,
    seed: int,
) -> tuple[np.ndarray, int]:
    """Mean CV accuracy of every C in ``grid`` (ascending), warm-starting along the path in each fold."""
    scores = np.zeros(len(grid))
    n_warn = 0
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_idx, val_idx in cv.split(x, y):
        xa, xb = x[fit_idx], x[val_idx]
        if standardize:
            scaler = StandardScaler().fit(xa)
            xa, xb = scaler.transform(xa), scaler.transform(xb)
        clf = LogisticRegression(C=grid[0], max_iter=max_iter, warm_start=True)
        for j, c in enumerate(grid):
            n_warn += _fit_counting_warnings(clf.set_params(C=c), xa, y[fit_idx])
            scores[j] += clf.score(xb, y[val_idx])
    return scores / folds, n_warn


@_single_threaded
def linear_probe(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    C: float | None = None,
    C_grid: Sequence[float] = LOGREG_C_GRID,
    folds: int = 5,
    max_iter: int = 1000,
    standardize: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Linear-probe accuracy: multinomial logistic regression on frozen (standardised) features.

    The scaler and the classifier are fit on the train split only. When ``C`` is ``None`` it is chosen
    from ``C_grid`` by stratified ``folds``-fold cross-validation on the train split (ties go to the
    smaller ``C``, the stronger regularisation), warm-starting L-BFGS along the grid; the test split is
    used once, for the final score. If the smallest training class has fewer than 2 samples,
    cross-validation is impossible and ``C = 1`` is used (``C_source == "default"``).

    Args:
        train_x: training features.
        train_y: integer training labels (at least 2 classes).
        test_x: test features.
        test_y: integer test labels.
        C: inverse L2 regularisation strength, or ``None`` to choose it by cross-validation.
        C_grid: candidates for ``C``.
        folds: cross-validation folds (lowered to the smallest class count when needed).
        max_iter: L-BFGS iterations per fit.
        standardize: z-score the features with the train split's mean and std.
        seed: seed of the fold shuffling.

    Returns:
        ``{"acc": test accuracy, "C": the C used, "cv_acc": mean CV accuracy of that C (None unless
        chosen by CV), "C_source": "given" | "cv" | "default", "converged": whether the final fit
        converged within max_iter, "cv_convergence_warnings": count}``.

    Raises:
        TypeError, ValueError: on bad features/labels, mismatched feature sizes, a single training class,
            a bad ``C``/``C_grid``/``folds``/``max_iter``.

    Shape:
        ``train_x``: ``(N, D)``, ``train_y``: ``(N,)``, ``test_x``: ``(M, D)``, ``test_y``: ``(M,)``.
    """
    xtr, ytr, xte, yte = _split(train_x, train_y, test_x, test_y)
    folds = check_positive_int(folds, "folds")
    max_iter = check_positive_int(max_iter, "max_iter")
    cv_acc, n_warn = None, 0
    if C is not None:
        c_used, source = _check_C(C), "given"
    else:
        grid = _check_grid(C_grid, "C_grid")
        n_folds = min(folds, int(_check_classes(ytr, "train_y").min()))
        if n_folds < 2:
            c_used, source = 1.0, "default"
        else:
            scores, n_warn = _logreg_cv(xtr, ytr, grid, n_folds, max_iter, standardize, seed)
            best = int(np.argmax(scores))  # first maximum = smallest C among ties
            c_used, source, cv_acc = grid[best], "cv", float(scores[best])
    if standardize:
        scaler = StandardScaler().fit(xtr)
        xtr, xte = scaler.transform(xtr), scaler.transform(xte)
    clf = LogisticRegression(C=c_used, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(xtr, ytr)
    converged = bool(np.max(clf.n_iter_) < max_iter)
    return {
        "acc": float(clf.score(xte, yte)),
        "C": c_used,
        "cv_acc": cv_acc,
        "C_source": source,
        "converged": converged,
        "cv_convergence_warnings": n_warn,
    }


# --------------------------------------------------------------------------------------------------
# SVM protocols
# --------------------------------------------------------------------------------------------------
def _check_kernel(kernel: Any, *c_values: float) -> str:
    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {_KERNELS}, got {kernel!r}")
    if kernel == "linear" and any(math.isinf(c) for c in c_values):
        raise ValueError(
            "the linear kernel (LinearSVC) needs finite C values; drop inf from C_grid/fallback_C"
        )
    return kernel


def _svm(kernel: str, C: float, seed: int, standardize: bool) -> Pipeline:
    """``SVC(rbf)`` or ``LinearSVC`` as the step ``"svm"`` of a pipeline, after an optional scaler."""
    if kernel == "rbf":
        est: Any = SVC(C=C, kernel="rbf", gamma="scale")
    else:
        est = LinearSVC(C=C, max_iter=10_000, random_state=seed)
    steps = [("scale", StandardScaler()), ("svm", est)] if standardize else [("svm", est)]
    return Pipeline(steps)


def _grid_search(
    x: np.ndarray,
    y: np.ndarray,
    kernel: str,
    grid: tuple[float, ...],
    folds: int,
    seed: int,
    standardize: bool,
    shuffle: bool = True,
) -> tuple[Any, float, int]:
    """Choose C by stratified CV and refit on all of ``x``; returns ``(model, C, convergence warnings)``.

    ``shuffle=False`` gives scikit-learn's ``cv=folds`` splits (consecutive stratified folds, no seed).
    """
    cv = (
        StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        if shuffle
        else StratifiedKFold(n_splits=folds)
    )
    search = GridSearchCV(
        _svm(kernel, 1.0, seed, standardize),
        {"svm__C": list(grid)},
        cv=cv,
        scoring="accuracy",
        refit=True,
    )
    n_warn = _fit_counting_warnings(search, x, y)
    return search.best_estimator_, float(search.best_params_["svm__C"]), n_warn


@_single_threaded
def svm_cv_accuracy(
    x: Any,
    y: Any,
    *,
    folds: int = 10,
    C_grid: Sequence[float] = GRAPH_SVM_C_GRID,
    kernel: str = "rbf",
    inner_folds: int = 5,
    standardize: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Cross-validated SVM accuracy (the InfoGraph / GraphCL graph-classification protocol).

    ``folds``-fold stratified CV over all samples; in each training fold, ``C`` is chosen from ``C_grid``
    by an inner ``inner_folds``-fold stratified CV (``GridSearchCV``), the SVM is refit on the whole
    training fold and scored on the held-out fold. InfoGraph's ``svc_classify`` uses ``SVC()`` (RBF,
    ``kernel="rbf"``) on raw embeddings; its ``linearsvc_classify`` uses ``LinearSVC`` (``kernel="linear"``).

    Args:
        x: features of all samples.
        y: integer labels (each class needs at least ``folds`` samples).
        folds: outer folds (10 in the protocol).
        C_grid: candidates for ``C``.
        kernel: ``"rbf"`` (``sklearn.svm.SVC``) or ``"linear"`` (``sklearn.svm.LinearSVC``).
        inner_folds: folds of the inner search (lowered to the smallest class count of a training fold).
        standardize: z-score features inside each fit (the published protocol does not).
        seed: seed of the fold shuffling.

    Returns:
        ``{"mean": mean fold accuracy, "std": population std of the fold accuracies, "fold_acc": list,
        "fold_C": list of the chosen C per fold, "folds_without_search": training folds where a class had
        a single sample, so C = 1 was used without inner CV, "convergence_warnings": count}``.

    Raises:
        TypeError, ValueError: on bad features/labels, a single class, a class smaller than ``folds``,
            or a bad argument.

    Shape:
        ``x``: ``(N, D)``, ``y``: ``(N,)``.
    """
    xa, ya = _xy(x, y, "x", "y")
    folds = check_positive_int(folds, "folds")
    inner_folds = check_positive_int(inner_folds, "inner_folds")
    if folds < 2 or inner_folds < 2:
        raise ValueError(f"folds and inner_folds must be at least 2, got {folds} and {inner_folds}")
    grid = _check_grid(C_grid, "C_grid")
    _check_kernel(kernel, *grid)
    smallest = int(_check_classes(ya, "y").min())
    if smallest < folds:
        raise ValueError(
            f"the smallest class has {smallest} samples, fewer than folds={folds}; stratified {folds}-fold "
            "CV needs every class in every fold: lower folds or drop the rare classes"
        )
    accs, cs, n_warn, n_no_search = [], [], 0, 0
    outer = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for tr, te in outer.split(xa, ya):
        n_inner = min(inner_folds, int(np.unique(ya[tr], return_counts=True)[1].min()))
        if n_inner >= 2:
            model, c, w = _grid_search(xa[tr], ya[tr], kernel, grid, n_inner, seed, standardize)
            n_warn += w
        else:  # a class has a single sample in this training fold (tiny classes, few folds): no inner CV
            c, n_no_search = 1.0, n_no_search + 1
            model = _svm(kernel, c, seed, standardize)
            n_warn += _fit_counting_warnings(model, xa[tr], ya[tr])
        accs.append(float(model.score(xa[te], ya[te])))
        cs.append(c)
    return {
        "mean": float(np.mean(accs)),
        "std": float(np.std(accs)),
        "fold_acc": accs,
        "fold_C": cs,
        "folds_without_search": n_no_search,
        "convergence_warnings": n_warn,
    }


@_single_threaded
def svm_accuracy(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    kernel: str = "rbf",
    C_grid: Sequence[float] | None = None,
    folds: int = 5,
    fallback_C: float | None = None,
    max_samples: int | None = 10_000,
    standardize: bool = False,
    seed: int = 0,
    shuffle: bool = True,
) -> dict[str, Any]:
    """SVM accuracy with ``C`` chosen on the train split (the TS2Vec classification protocol).

    ``C`` is chosen from ``C_grid`` by stratified ``folds``-fold CV on the train split (at most
    ``max_samples`` stratified-sampled training samples are used, as in TS2Vec), the SVM is refit and
    scored on the test split. As in TS2Vec, when the train split is too small for CV (fewer than 50
    samples, fewer than 5 per class on average, or a class with a single sample) no search is run and
    ``fallback_C`` (TS2Vec: ``inf``, a hard margin) is used; the result then has ``C_source ==
    "fallback"`` and a ``note``.

    Args:
        train_x: training features.
        train_y: integer training labels (at least 2 classes).
        test_x: test features.
        test_y: integer test labels.
        kernel: ``"rbf"`` (``SVC``, the protocol) or ``"linear"`` (``LinearSVC``, which needs finite C).
        C_grid: candidates for ``C``; ``None`` is :data:`TS2VEC_SVM_C_GRID` (without ``inf`` for the
            linear kernel).
        folds: CV folds (lowered to the smallest class count when needed).
        fallback_C: ``C`` used when the train split is too small for CV; ``None`` is ``inf`` (TS2Vec)
            for the RBF kernel and ``1e4`` (nearly hard margin) for the linear kernel.
        max_samples: subsample the train split to this many samples before the search and fit
            (``None``: never).
        standardize: z-score features inside the fit (the published protocol does not).
        seed: seed of the fold shuffling and of the subsampling.
        shuffle: shuffle the samples before splitting them into CV folds (seeded by ``seed``). TS2Vec's
            ``fit_svm`` passes ``cv=5`` to ``GridSearchCV``, i.e. unshuffled stratified folds: use
            ``shuffle=False`` to reproduce its choice of ``C`` exactly.

    Returns:
        ``{"acc": test accuracy, "C": the C used, "C_source": "cv" | "fallback", "note": str or None,
        "convergence_warnings": count}``.

    Raises:
        TypeError, ValueError: on bad features/labels, mismatched feature sizes, a single training class,
            or a bad argument.

    Shape:
        ``train_x``: ``(N, D)``, ``train_y``: ``(N,)``, ``test_x``: ``(M, D)``, ``test_y``: ``(M,)``.
    """
    xtr, ytr, xte, yte = _split(train_x, train_y, test_x, test_y)
    folds = check_positive_int(folds, "folds")
    linear = _check_kernel(kernel) == "linear"
    if C_grid is None:
        C_grid = [c for c in TS2VEC_SVM_C_GRID if not (linear and math.isinf(c))]
    grid = _check_grid(C_grid, "C_grid")
    fallback_C = _check_C((1e4 if linear else math.inf) if fallback_C is None else fallback_C)
    _check_kernel(kernel, fallback_C, *grid)
    if max_samples is not None:
        max_samples = check_positive_int(max_samples, "max_samples")
        if len(ytr) > max_samples:
            xtr, _, ytr, _ = train_test_split(
                xtr, ytr, train_size=max_samples, random_state=seed, stratify=ytr
            )
    counts = _check_classes(ytr, "train_y")
    n, n_classes = len(ytr), len(counts)
    n_folds = min(folds, int(counts.min()))
    note, n_warn = None, 0
    if n < 50 or n // n_classes < 5 or n_folds < 2:
        c, source = fallback_C, "fallback"
        note = (
            f"train split too small for cross-validation ({n} samples, {n_classes} classes, smallest class "
            f"{int(counts.min())}); used the fixed C={fallback_C} as TS2Vec does"
        )
        model = _svm(kernel, c, seed, standardize)
        n_warn = _fit_counting_warnings(model, xtr, ytr)
    else:
        model, c, n_warn = _grid_search(xtr, ytr, kernel, grid, n_folds, seed, standardize, shuffle)
        source = "cv"
    return {
        "acc": float(model.score(xte, yte)),
        "C": c,
        "C_source": source,
        "note": note,
        "convergence_warnings": n_warn,
    }
