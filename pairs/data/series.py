"""Time-series data that works offline: the UCR/UEA sets bundled with sktime, and a user's ``.npy``/``.npz``.

Specs registered here:

* ``ucr:NAME``: a UCR/UEA archive set that ships inside the ``sktime`` package (``pip install sktime``),
  e.g. ``ucr:GunPoint``, ``ucr:JapaneseVowels``; train/test splits as published. :func:`available_ucr`
  lists the names that load without a download.
* ``series:FILE``: a user's array of series, ``.npy`` of shape ``(N, C, T)`` (or ``(N, T)`` for univariate
  series), or ``.npz`` with ``X`` and optional ``y``; ``series:FILE@LABELS`` reads labels from a separate
  ``.npy``/``.txt``/``.csv``. Labeled data gets a fixed stratified 80/20 split (``random_state=0``).

Arrays are ``(N, C, T)`` float32. Series of unequal length are NaN-padded at the end to a common ``T``
(the UEA convention), which :mod:`pairs.views.temporal` and :mod:`encoders.temporal` understand.

Reference:
    Dau et al. 2019, "The UCR Time Series Archive"; Bagnall et al. 2018, "The UEA multivariate time series
    classification archive, 2018"; Löning et al. 2019, "sktime: A Unified Interface for Machine Learning
    with Time Series".
"""

from __future__ import annotations

import os
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from pairs.data.registry import DataBundle, register_data
from pairs.errors import DataError, DataNotFoundError, DataTypeError

__all__ = ["available_ucr", "load_ucr", "ucr_task", "ucr_classes", "load_series_file"]

_SPLITS = ("train", "test")
_LABEL_SUFFIXES = (".npy", ".txt", ".csv")


# --------------------------------------------------------------------------------------------------
# UCR / UEA sets bundled with sktime
# --------------------------------------------------------------------------------------------------
def _sktime_data_dirs() -> list[Path]:
    """Folders where sktime keeps its datasets: the bundled ``datasets/data`` and its download cache
    ``datasets/local_data`` (sets a user downloaded with sktime before also load offline)."""
    try:
        import sktime.datasets
    except ImportError as err:
        raise ImportError(
            "UCR/UEA data needs the sktime package, which bundles several archive sets: pip install sktime"
        ) from err
    root = Path(sktime.datasets.__file__).parent
    return [d for d in (root / "data", root / "local_data") if d.is_dir()]


def _find_ucr() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for base in _sktime_data_dirs():
        for folder in sorted(base.iterdir()):
            name = folder.name
            if name in found or not folder.is_dir():
                continue
            if (folder / f"{name}_TRAIN.ts").is_file() and (folder / f"{name}_TEST.ts").is_file():
                found[name] = folder
    return found


def available_ucr() -> list[str]:
    """Names of the UCR/UEA sets that load offline (shipped with, or already downloaded by, sktime).

    Returns:
        Sorted names, e.g. ``["ACSF1", "ArrowHead", "BasicMotions", "GunPoint", ...]``.

    Raises:
        ImportError: if sktime is not installed.
    """
    return sorted(_find_ucr(), key=str.lower)


def _resolve_ucr(name: str) -> Path:
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"a UCR/UEA set name must be a non-empty string, got {name!r}")
    found = _find_ucr()
    if name in found:
        return found[name]
    lower = {k.lower(): k for k in found}
    if name.lower() in lower:
        return found[lower[name.lower()]]
    raise DataError(
        f"unknown or not installed UCR/UEA set {name!r}; the sets that load offline (bundled with sktime) "
        f"are: {', '.join(sorted(found, key=str.lower)) or '(none)'}. Other archive sets need a download, "
        "which pairs never does at run time"
    )


def _read_header(path: Path) -> dict[str, str]:
    """The ``@key value`` lines of a ``.ts`` file, up to ``@data`` (keys lower-cased)."""
    header: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("@"):
                continue
            key, _, value = line[1:].partition(" ")
            key = key.lower()
            if key == "data":
                break
            header[key] = value.strip()
    return header


def ucr_task(name: str) -> str:
    """``"classification"`` or ``"regression"`` (e.g. Tecator), from the set's ``.ts`` header."""
    return _task_of(_resolve_ucr(name))


def _task_of(folder: Path) -> str:
    header = _read_header(folder / f"{folder.name}_TRAIN.ts")
    return "regression" if header.get("targetlabel", "").lower().startswith("true") else "classification"


def _nested_to_array(frame) -> np.ndarray:
    """sktime's nested frame (a ``pd.Series`` per instance and channel) -> ``(N, C, T_max)`` float32,
    NaN-padded at the end."""
    n, c = frame.shape
    cells = [[np.asarray(frame.iat[i, j], dtype=np.float64) for j in range(c)] for i in range(n)]
    t = max((len(s) for row in cells for s in row), default=0)
    out = np.full((n, c, t), np.nan, dtype=np.float32)
    for i, row in enumerate(cells):
        for j, s in enumerate(row):
            out[i, j, : len(s)] = s
    return out


def _sorted_labels(values: np.ndarray) -> list[str]:
    """Class names in a stable order: numerically when every label is a number, else alphabetically."""
    uniq = sorted(set(values.tolist()))
    try:
        return sorted(uniq, key=float)
    except ValueError:
        return uniq


@lru_cache(maxsize=8)
def _load_ucr_cached(
    folder: str,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], tuple[str, ...], str]:
    from sktime.datasets import load_from_tsfile

    path = Path(folder)
    name = path.name
    task = _task_of(path)
    xs, ys = {}, {}
    for split in _SPLITS:
        x, y = load_from_tsfile(str(path / f"{name}_{split.upper()}.ts"), return_data_type="nested_univ")
        xs[split], ys[split] = _nested_to_array(x), np.asarray(y)
    t = max(xs[s].shape[-1] for s in _SPLITS)  # one T for both splits
    for s in _SPLITS:
        if xs[s].shape[-1] < t:
            pad = np.full((*xs[s].shape[:2], t - xs[s].shape[-1]), np.nan, dtype=np.float32)
            xs[s] = np.concatenate([xs[s], pad], axis=-1)
    if task == "regression":
        labels = {s: ys[s].astype(np.float32) for s in _SPLITS}
        return xs, labels, (), task
    classes = _sorted_labels(np.concatenate([ys[s].astype(str) for s in _SPLITS]))
    index = {c: i for i, c in enumerate(classes)}
    labels = {s: np.array([index[v] for v in ys[s].astype(str)], dtype=np.int64) for s in _SPLITS}
    return xs, labels, tuple(classes), task


def load_ucr(name: str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load one split of a UCR/UEA set bundled with sktime (no download).

    Series of unequal length (e.g. JapaneseVowels, PLAID) are NaN-padded at the end to the longest series
    of *both* splits, so train and test share ``T``. Class labels are encoded ``0..K-1`` in the same way for
    both splits (classes sorted numerically when they are numbers, else alphabetically; see
    :func:`ucr_classes`). Regression sets (``ucr_task(name) == "regression"``, e.g. Tecator) return their
    float targets instead.

    Args:
        name: the set's name (case-insensitive), one of :func:`available_ucr`.
        split: ``"train"`` or ``"test"`` (as published).

    Returns:
        ``(X, y)``: ``X`` float32 ``(N, C, T)`` with NaN padding; ``y`` int64 ``(N,)`` labels
        (float32 targets for regression sets).

    Raises:
        ValueError: for an unknown name (the message lists the installed sets) or a bad split.
        ImportError: if sktime is not installed.

    Shape:
        ``X``: ``(N, C, T)``; ``y``: ``(N,)``.

    Example:
        >>> x, y = load_ucr("GunPoint", "train")  # doctest: +SKIP
        >>> x.shape, y[:5]
        ((50, 1, 150), array([1, 1, 0, 0, 1]))
    """
    if split not in _SPLITS:
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    folder = _resolve_ucr(name)
    xs, ys, _, _ = _load_ucr_cached(str(folder))
    return xs[split].copy(), ys[split].copy()


def ucr_classes(name: str) -> list[str]:
    """The class names of a UCR/UEA classification set, in label order (label ``i`` is ``classes[i]``)."""
    return list(_load_ucr_cached(str(_resolve_ucr(name)))[2])


# --------------------------------------------------------------------------------------------------
# A user's files
# --------------------------------------------------------------------------------------------------
def _check_file(path: str | os.PathLike, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataNotFoundError(f"{what} not found: {p}")
    if not p.is_file():
        raise DataError(f"{what} must be a file, but {p} is a directory")
    return p


_MAGIC = {".npy": (b"\x93NUMPY",), ".npz": (b"PK\x03\x04", b"PK\x05\x06")}


def _check_magic(path: Path, what: str) -> None:
    """Refuse a file whose first bytes are not those of a numpy ``.npy`` / ``.npz`` file."""
    with open(path, "rb") as f:
        head = f.read(8)
    suffix = path.suffix.lower()
    if not any(head.startswith(m) for m in _MAGIC[suffix]):
        kind = (
            "a numpy .npy file (it lacks the \\x93NUMPY header)"
            if suffix == ".npy"
            else "a numpy .npz (zip) file"
        )
        raise DataError(
            f"{what} {path} is not {kind}; save arrays with np.save / np.savez, or give the file the "
            "suffix of what it holds"
        )


def _load_npy(path: Path, what: str) -> np.ndarray:
    _check_magic(path, what)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read {what} {path} as a numpy .npy file: {err}") from None
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise DataTypeError(
                f"{what} {path} holds Python objects (a pickled object array), which pairs does not load; "
                "save a numeric array, e.g. np.save(path, np.asarray(x, dtype=np.float32))"
            ) from None
        raise DataError(f"cannot read {what} {path} as a numpy .npy file: {err}") from None


def _as_series_array(x: np.ndarray, path: Path) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        raise DataTypeError(
            f"series file {path} holds non-numeric data (dtype {x.dtype}); expected a numeric array "
            "(N, C, T) or (N, T)"
        )
    if x.ndim == 2:
        x = x[:, None, :]
    elif x.ndim != 3:
        raise DataError(
            f"series file {path} holds an array of shape {x.shape}; expected (N, C, T) (N series of C "
            "channels and T timestamps) or (N, T) for univariate series"
        )
    if 0 in x.shape:
        raise DataError(f"series file {path} holds an empty array of shape {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


def _as_labels(y: np.ndarray, n: int, source: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise DataError(f"labels in {source} must be one label per series, shape (N,), got {y.shape}")
    if len(y) != n:
        raise DataError(f"labels in {source} have {len(y)} entries but there are {n} series")
    if y.dtype.kind in "biu":
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError(
                f"labels in {source} are floats that are not whole numbers; class labels must be integers "
                "(or strings, which are encoded 0..K-1)"
            )
        return y.astype(np.int64)
    if y.dtype.kind in "US":
        classes = _sorted_labels(y.astype(str))
        index = {c: i for i, c in enumerate(classes)}
        return np.array([index[v] for v in y.astype(str)], dtype=np.int64)
    raise DataTypeError(f"labels in {source} have unsupported dtype {y.dtype}; expected integers or strings")


def _load_labels(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return _load_npy(path, "labels file")
    if path.suffix in (".txt", ".csv"):
        text = path.read_text(encoding="utf-8").replace(",", "\n").split()
        try:
            return np.array([int(v) for v in text], dtype=np.int64)
        except ValueError:
            return np.array(text)
    raise DataError(f"labels file {path} must be .npy, .txt or .csv (one label per series)")


def load_series_file(
    path: str | os.PathLike, labels_path: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a user's series from ``.npy`` or ``.npz`` (never unpickling anything).

    Args:
        path: ``.npy`` with an array ``(N, C, T)`` or ``(N, T)`` (univariate), or ``.npz`` with ``X`` (same
            shapes) and optional ``y``. NaN marks missing values / padding of shorter series.
        labels_path: optional labels, ``.npy`` (integers or strings) or ``.txt``/``.csv`` (one label per
            line or comma-separated); overrides ``y`` of an ``.npz``.

    Returns:
        ``(X, y)``: ``X`` float32 ``(N, C, T)``; ``y`` int64 ``(N,)`` (string labels encoded ``0..K-1`` in
        sorted order) or ``None``.

    Raises:
        FileNotFoundError: if a file does not exist.
        ValueError: wrong rank, empty array, labels of the wrong length, an ``.npz`` without ``X``, an
            unknown file type.
        TypeError: non-numeric data or pickled object arrays.

    Shape:
        ``X``: ``(N, C, T)``; ``y``: ``(N,)``.
    """
    p = _check_file(path, "series file")
    y: np.ndarray | None = None
    if p.suffix == ".npy":
        x = _load_npy(p, "series file")
    elif p.suffix == ".npz":
        _check_magic(p, "series file")
        try:
            with np.load(p, allow_pickle=False) as data:
                if "X" not in data.files:
                    raise DataError(
                        f"series file {p} has no array named 'X' (it has {sorted(data.files)}); save with "
                        "np.savez(path, X=x, y=labels)"
                    )
                x = data["X"]
                y = data["y"] if "y" in data.files else None
        except ValueError as err:
            if "pickle" in str(err).lower():
                raise DataTypeError(
                    f"series file {p} holds pickled object arrays, which pairs does not load"
                ) from None
            if isinstance(err, DataError):
                raise
            raise DataError(f"cannot read series file {p} as a numpy .npz file: {err}") from None
        except (OSError, EOFError, zipfile.BadZipFile) as err:
            raise DataError(f"cannot read series file {p} as a numpy .npz file: {err}") from None
    else:
        raise DataError(f"series file {p} must be a .npy or .npz file, got suffix {p.suffix!r}")
    x = _as_series_array(x, p)
    if labels_path is not None:
        lp = _check_file(labels_path, "labels file")
        y = _as_labels(_load_labels(lp), len(x), str(lp))
    elif y is not None:
        y = _as_labels(y, len(x), f"{p} (array 'y')")
    return x, y


# --------------------------------------------------------------------------------------------------
# Data specs
# --------------------------------------------------------------------------------------------------
def _series_info(x: np.ndarray) -> dict:
    nan_t = np.isnan(x).all(axis=1)  # (N, T) padding timestamps
    has = ~nan_t
    lengths = np.where(has.any(1), x.shape[-1] - np.argmax(has[:, ::-1], axis=1), 0)
    return {
        "shape": tuple(int(v) for v in x.shape[1:]),
        "channels": int(x.shape[1]),
        "length": int(x.shape[2]),
        "variable_length": bool((lengths < x.shape[2]).any()),
        "min_length": int(lengths.min()),
    }


def _load_ucr_spec(arg: str | None) -> DataBundle:
    if not arg:
        raise DataError(
            f"data spec 'ucr' needs a set name, e.g. ucr:GunPoint; offline sets: {available_ucr()}"
        )
    folder = _resolve_ucr(arg)
    xs, ys, classes, task = _load_ucr_cached(str(folder))
    info = {
        **_series_info(xs["train"]),
        "name": folder.name,
        "task": task,
        "split": "train/test as published in the UCR/UEA archive",
        "source": f"sktime bundled data ({folder})",
    }
    x_train, x_test = torch.from_numpy(xs["train"].copy()), torch.from_numpy(xs["test"].copy())
    if task == "regression":
        info["train_targets"], info["test_targets"] = ys["train"].copy(), ys["test"].copy()
        return DataBundle(f"ucr:{arg}", "series", x_train, None, x_test, None, info)
    info["classes"] = list(classes)
    y_train, y_test = torch.from_numpy(ys["train"].copy()), torch.from_numpy(ys["test"].copy())
    return DataBundle(f"ucr:{arg}", "series", x_train, y_train, x_test, y_test, info)


def _stratified_split(labels: np.ndarray, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(labels))
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 else None
    train, test = train_test_split(positions, test_size=test_fraction, stratify=stratify, random_state=0)
    return np.sort(train), np.sort(test)


def _load_series_spec(arg: str | None) -> DataBundle:
    if not arg:
        raise DataError(
            "data spec 'series' needs a file: use series:FILE.npy, series:FILE.npz or series:FILE@LABELS"
        )
    path, labels = arg, None
    head, sep, tail = arg.rpartition("@")
    if sep and Path(tail).suffix in _LABEL_SUFFIXES:
        path, labels = head, tail
    try:
        x, y = load_series_file(path, labels)
    except (FileNotFoundError, TypeError) as err:
        raise DataError(str(err)) from None
    spec = f"series:{arg}"
    info = {**_series_info(x), "file": str(Path(path).expanduser())}
    xt = torch.from_numpy(x)
    if y is None or len(np.unique(y)) < 2 or len(y) < 10:
        info["split"] = "none (unlabeled or too few series): no held-out evaluation"
        return DataBundle(spec, "series", xt, None if y is None else torch.from_numpy(y), None, None, info)
    train, test = _stratified_split(y)
    info["split"] = "stratified 80%/20%, random_state=0"
    yt = torch.from_numpy(y)
    return DataBundle(spec, "series", xt[train], yt[train], xt[test], yt[test], info)


register_data(
    "ucr",
    _load_ucr_spec,
    domain="series",
    description="a UCR/UEA set bundled with sktime (GunPoint, JapaneseVowels, ...); published train/test",
    argument="NAME",
)
register_data(
    "series",
    _load_series_spec,
    domain="series",
    description="your series: .npy (N, C, T) or (N, T), or .npz with X and optional y; FILE@LABELS: labels",
    argument="FILE",
)
