"""Time-series data that works offline: the UCR/UEA sets bundled with sktime, and a user's ``.npy``/``.npz``.

Specs registered here:

* ``ucr:NAME``: a UCR/UEA archive set that ships inside the ``sktime`` package (``pip install sktime``),
  e.g. ``ucr:GunPoint``, ``ucr:JapaneseVowels``; train/test splits as published. :func:`available_ucr`
  lists the names that load without a download.
* ``series:FILE``: a user's array of series, ``.npy`` of shape ``(N, C, T)`` (or ``(N, T)`` for univariate
  series), or ``.npz`` with ``X`` and optional ``y``; ``series:FILE@LABELS`` reads labels from a separate
  ``.npy``/``.txt``/``.csv``. Labeled data gets a fixed stratified 80/20 split (``random_state=0``).
  A ``.npy`` larger than :data:`STREAM_BYTES` (256 MiB) is streamed (:class:`NpySeriesSource`: the header
  read memory-mapped, each series read on demand), so files far larger than RAM train.
* ``series:FILE.csv`` / ``.parquet``: a table read whole: *wide* (a series per row, numeric columns in
  order; ``@label=COLUMN``), or *long* (``@id=COLUMN,time=COLUMN[,value=A;B][,label=COLUMN]``).
* ``series:FILE.ts``: a UCR/UEA ``.ts`` file (sktime's reader); ``NAME_TRAIN.ts`` with a ``NAME_TEST.ts``
  beside it gives the published split.

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
from pairs.data.source import Source, SubsetSource
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
    if x.dtype.kind == "f" and np.isinf(x).any():
        where = tuple(int(i) for i in np.argwhere(np.isinf(x))[0])
        raise DataError(
            f"series file {path} holds {int(np.isinf(x).sum())} infinite values (first at index {where}); "
            "mark missing values with NaN, or clip the values"
        )
    if np.abs(np.nan_to_num(x, nan=0.0)).max() > np.finfo(np.float32).max:
        raise DataError(
            f"series file {path} holds values beyond float32's range (about 3.4e38); rescale them"
        )
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


STREAM_BYTES = 256 * 2**20
"""``.npy`` files larger than this are streamed (:class:`NpySeriesSource`); smaller ones are read whole."""


class NpySeriesSource(Source):
    """Series of a ``.npy`` file read one at a time, never the whole file.

    The header is read with ``np.load(path, mmap_mode="r", allow_pickle=False)`` (shape, dtype, data offset;
    nothing is unpickled), then series ``i`` is read with one positioned read (``os.pread``) of its bytes, in
    whichever worker asks for it. Unlike indexing the memory map itself, this leaves no file pages mapped in
    the process, so its memory stays flat however much of the file an epoch reads.

    ``source[i]``: ``(C, T)`` float32 (a ``(N, T)`` file gives ``C = 1``). ``item_id``: ``path:row``.

    Args:
        path: a C-ordered ``.npy`` file of a numeric array ``(N, C, T)`` or ``(N, T)``.
        labels: optional ``(N,)`` int64 labels.

    Raises:
        DataError: a Fortran-ordered, non-numeric, pickled or wrongly shaped array.
    """

    domain = "series"

    def __init__(self, path: str | Path, labels: np.ndarray | None = None) -> None:
        super().__init__()
        self.path = str(Path(path).expanduser().absolute())
        _check_magic(Path(self.path), "series file")
        try:
            array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except ValueError as err:
            raise DataError(
                f"cannot read series file {self.path} as a numeric .npy array ({err}); expected an array "
                "(N, C, T) or (N, T) saved with np.save (no pickled objects)"
            ) from None
        if not isinstance(array, np.memmap) or array.dtype.kind not in "biuf" or array.ndim not in (2, 3):
            raise DataError(
                f"series file {self.path} holds {getattr(array, 'dtype', '?')} of shape "
                f"{getattr(array, 'shape', '?')}; expected a numeric array (N, C, T) or (N, T)"
            )
        if not array.flags.c_contiguous:
            raise DataError(f"series file {self.path} is Fortran-ordered; save it with np.ascontiguousarray")
        if 0 in array.shape:
            raise DataError(f"series file {self.path} holds an empty array of shape {array.shape}")
        self.n = int(array.shape[0])
        self.sample_shape = (
            (1, int(array.shape[1])) if array.ndim == 2 else tuple(int(v) for v in array.shape[1:])
        )
        self.dtype = array.dtype
        self.offset = int(array.offset)
        self.row_bytes = int(np.prod(array.shape[1:])) * array.dtype.itemsize
        del array
        self.labels = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self._fd: int | None = None
        self.info = {"file": self.path, "series": self.n, "shape": self.sample_shape}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None}  # each worker opens its own descriptor

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        i = int(i)
        if not 0 <= i < self.n:
            raise IndexError(f"series {i} out of range for {self.n} series")
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        raw = os.pread(self._fd, self.row_bytes, self.offset + i * self.row_bytes)
        row = np.frombuffer(raw, dtype=self.dtype).astype(np.float32).reshape(self.sample_shape)
        return torch.from_numpy(row)

    def item_id(self, i: int) -> str:
        return f"{self.path}:{int(i)}"


def _series_options(arg: str) -> tuple[str, dict[str, str]]:
    """``FILE@key=value,...`` -> ``(FILE, {key: value})``; ``FILE@LABELS`` -> ``(FILE, {"labels": ...})``."""
    head, sep, tail = arg.rpartition("@")
    if not sep:
        return arg, {}
    if "=" not in tail:
        if Path(tail).suffix in _LABEL_SUFFIXES:
            return head, {"labels": tail}
        return arg, {}
    options: dict[str, str] = {}
    for part in tail.split(","):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in ("labels", "label", "id", "time", "value") or not value:
            raise DataError(
                f"series:{arg}: the options after '@' are labels=FILE (.npy), label=COLUMN, id=COLUMN, "
                f"time=COLUMN, value=COLUMN[;COLUMN...] (tables), comma-separated; got {part!r}"
            )
        options[key] = value
    return head, options


def load_series_table(path: Path, options: dict[str, str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Series from a ``.csv`` or ``.parquet`` table (read whole, with pandas).

    * **wide** (no ``id``): one series per row, its values in the numeric columns in order; ``label=COLUMN``
      names a label column (left out of the values).
    * **long** (``id=COLUMN,time=COLUMN``): one row per (series, time step); the values are
      ``value=A;B`` (channels) or every other numeric column; ``label=COLUMN`` is constant per series.
      Series of unequal length are NaN-padded at the end.

    Returns:
        ``(X (N, C, T) float32, labels (N,) int64 or None)``.
    """
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise DataError(f"cannot read series table {path}: {err}") from None
    label, ident, time = options.get("label"), options.get("id"), options.get("time")
    for name in (label, ident, time, *(options.get("value", "").split(";") if "value" in options else [])):
        if name and name not in frame.columns:
            raise DataError(f"series table {path} has no column {name!r} (columns: {list(frame.columns)})")
    if (ident is None) != (time is None):
        raise DataError(f"series:{path}: a long table needs both id=COLUMN and time=COLUMN")
    y = None
    if ident is None:
        values = frame.drop(columns=[label]) if label else frame
        numeric = values.select_dtypes("number")
        if numeric.shape[1] != values.shape[1]:
            bad = [c for c in values.columns if c not in numeric.columns]
            raise DataError(
                f"series table {path} has non-numeric columns {bad[:5]}; a wide table holds one series per "
                "row in numeric columns (name a label column with @label=NAME, or give id=,time= for a long "
                "table)"
            )
        x = numeric.to_numpy(dtype=np.float32)[:, None, :]
        if label:
            y = frame[label].to_numpy()
    else:
        channels = (
            options["value"].split(";")
            if "value" in options
            else [c for c in frame.select_dtypes("number").columns if c not in (ident, time, label)]
        )
        if not channels:
            raise DataError(f"series table {path} has no numeric value column besides id/time/label")
        frame = frame.sort_values([ident, time], kind="stable")
        groups = list(frame.groupby(ident, sort=True))
        t = max(len(g) for _, g in groups)
        x = np.full((len(groups), len(channels), t), np.nan, dtype=np.float32)
        for k, (_, g) in enumerate(groups):
            x[k, :, : len(g)] = g[channels].to_numpy(dtype=np.float32).T
        if label:
            y = np.array([g[label].iloc[0] for _, g in groups])
    if x.size == 0:
        raise DataError(f"series table {path} holds no values")
    if y is not None and np.asarray(y).dtype == object:  # pandas strings
        y = np.asarray(y).astype(str)
    return x, None if y is None else _as_labels(y, len(x), f"{path} (column {label!r})")


def load_ts_file(path: Path) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """A UCR/UEA ``.ts`` file (sktime's ``load_from_tsfile``): ``(X (N, C, T), labels or None, classes)``."""
    from sktime.datasets import load_from_tsfile

    try:
        frame, y = load_from_tsfile(str(path), return_data_type="nested_univ")
    except Exception as err:  # sktime raises its own error types for malformed files
        raise DataError(f"cannot read {path} as a UCR/UEA .ts file: {err}") from None
    x = _nested_to_array(frame)
    if y is None or len(y) == 0:
        return x, None, []
    classes = _sorted_labels(np.asarray(y).astype(str))
    index = {c: i for i, c in enumerate(classes)}
    return x, np.array([index[v] for v in np.asarray(y).astype(str)], dtype=np.int64), classes


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
            "data spec 'series' needs a file: use series:FILE.npy, series:FILE.npz, series:FILE@LABELS, "
            "series:FILE.csv / .parquet (@label=, or @id=,time= for long tables) or series:FILE.ts"
        )
    path_text, options = _series_options(arg)
    path = Path(path_text).expanduser().absolute()
    suffix = path.suffix.lower()
    spec = f"series:{path}" + (f"@{arg.rpartition('@')[2]}" if options else "")
    if not path.is_file():
        raise DataError(f"series file not found: {path}" if not path.exists() else f"{path} is not a file")
    if suffix == ".npy" and path.stat().st_size > STREAM_BYTES:
        y = None
        if "labels" in options:
            lp = _check_file(options["labels"], "labels file")
            y = _load_labels(lp)
        source = NpySeriesSource(path, None)
        if y is not None:
            y = _as_labels(y, len(source), str(options["labels"]))
        shape = source.sample_shape
        assert shape is not None  # a .npy file has one shape
        info = {
            "shape": shape,
            "channels": shape[0],
            "length": shape[1],
            "variable_length": False,
            "file": str(path),
            "streamed": "read series by series (os.pread), the file is never loaded whole",
        }
        if y is None or len(np.unique(y)) < 2 or len(y) < 10:
            info["split"] = "none (unlabeled or too few series): no held-out evaluation"
            if y is not None:
                source.labels = torch.from_numpy(y)
            return DataBundle(spec, "series", source, info=info)
        source.labels = torch.from_numpy(y)
        train, test = _stratified_split(y)
        info["split"] = "stratified 80%/20%, random_state=0"
        return DataBundle(
            spec, "series", SubsetSource(source, train), test=SubsetSource(source, test), info=info
        )
    classes: list[str] = []
    split_test = None
    if suffix in (".npy", ".npz"):
        try:
            x, y = load_series_file(path, options.get("labels"))
        except (FileNotFoundError, TypeError) as err:
            raise DataError(str(err)) from None
    elif suffix in (".csv", ".parquet"):
        x, y = load_series_table(path, options)
    elif suffix == ".ts":
        x, y, classes = load_ts_file(path)
        if path.stem.upper().endswith("_TRAIN"):
            sibling = path.with_name(path.stem[: -len("_TRAIN")] + "_TEST" + path.suffix)
            if sibling.is_file():
                split_test = load_ts_file(sibling)
    else:
        raise DataError(
            f"series file {path} has suffix {suffix!r}; expected .npy/.npz (N, C, T), .csv/.parquet (wide: a "
            "series per row; long: @id=,time=), or a UCR/UEA .ts file"
        )
    info = {**_series_info(x), "file": str(path)}
    if classes:
        info["classes"] = classes
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if split_test is not None:
        x_test, y_test, test_classes = split_test
        if x_test.shape[1:] != x.shape[1:] or (y is None) != (y_test is None):
            raise DataError(f"{path} and its _TEST file hold different kinds of series")
        if y is not None and y_test is not None:
            merged = sorted(set(classes) | set(test_classes))
            remap = {c: i for i, c in enumerate(merged)}
            y = np.array([remap[classes[v]] for v in y], dtype=np.int64)
            y_test = np.array([remap[test_classes[v]] for v in y_test], dtype=np.int64)
            info["classes"] = merged
        info["split"] = "the _TRAIN and _TEST files"
        return DataBundle(
            spec,
            "series",
            xt,
            None if y is None else torch.from_numpy(y),
            torch.from_numpy(np.ascontiguousarray(x_test, dtype=np.float32)),
            None if y_test is None else torch.from_numpy(y_test),
            info,
        )
    if y is None or len(np.unique(y)) < 2 or len(y) < 10:
        info["split"] = "none (unlabeled or too few series): no held-out evaluation"
        return DataBundle(spec, "series", xt, None if y is None else torch.from_numpy(y), None, None, info)
    train, test = _stratified_split(y)
    info["split"] = "stratified 80%/20%, random_state=0"
    yt = torch.from_numpy(y)
    return DataBundle.from_split(spec, "series", xt, yt, train, test, info)


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
    description="your series: .npy (N, C, T) or (N, T) (large files streamed), .npz with X and y, "
    "FILE@LABELS; .csv/.parquet (wide, or long @id=,time=), UCR .ts",
    argument="FILE",
)
