"""Checkpoints: plain ``state_dict`` data written atomically and read with ``weights_only=True``.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts: data, never code. It is written to a
temporary file in the same folder (created with the usual ``0666 & ~umask`` mode, like every other run
file), flushed to disk, then renamed over the old one, so a crash mid-write leaves the previous checkpoint
intact. Every member of the zip archive ``torch.save`` writes carries a CRC-32; :func:`load_checkpoint`
checks them all before unpickling anything, so a damaged file (flipped bytes inside a tensor, a truncated
copy) is refused instead of loading wrong weights.
"""

from __future__ import annotations

import os
import pickle
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from pairs.errors import CheckpointError, OutputError, first_line

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "pairs-checkpoint-v1"
TMP_GLOB = f".{CHECKPOINT_NAME}.*.tmp"
"""Temporary files an interrupted :func:`save_checkpoint` of ``checkpoint.pt`` may leave behind."""


def _open_temp(folder: Path, name: str) -> tuple[int, Path]:
    """Create a new, empty temporary file ``.<name>.<random>.tmp`` in ``folder`` (mode ``0666 & ~umask``)."""
    for _ in range(100):
        tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {folder}")  # pragma: no cover


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file + fsync + rename).

    Args:
        state: plain data (tensors, numbers, strings, lists, dicts); ``format`` is added.
        path: the checkpoint file to write (its folder is created if need be).

    Returns:
        The path written.

    Raises:
        OutputError: the folder or file cannot be written (read-only file system, no permission, no
            space); the previous checkpoint, if any, is left as it was.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _open_temp(path.parent, path.name)
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            reason = err.strerror or str(err)
            error = OutputError(
                f"cannot write checkpoint {path}: {reason}; free some space or choose another --out"
            )
            error.errno = err.errno
            raise error from err
        raise
    return path


def remove_leftover_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the ``.checkpoint.pt.*.tmp`` files an interrupted write left in ``folder``.

    Returns:
        The paths removed.
    """
    removed = []
    for leftover in Path(folder).glob(TMP_GLOB):
        try:
            leftover.unlink()
            removed.append(leftover)
        except FileNotFoundError:  # pragma: no cover - removed by someone else meanwhile
            pass
    return removed


def verify_checkpoint(path: str | os.PathLike) -> None:
    """Check a checkpoint file's integrity: a readable zip archive whose members all match their CRC-32.

    Raises:
        CheckpointError: naming the file and what is wrong with it.
    """
    path = Path(path)
    fix = "restore it from a copy or train again"
    try:
        size = path.stat().st_size
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror or err}") from err
    if size == 0:
        raise CheckpointError(f"cannot read checkpoint {path}: the file is empty (0 bytes); {fix}")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except zipfile.BadZipFile as err:
        raise CheckpointError(
            f"cannot read checkpoint {path}: not the zip archive torch.save writes ({err}); the file is "
            f"damaged or not a checkpoint: {fix}"
        ) from err
    except (OSError, EOFError, ValueError, NotImplementedError) as err:  # truncated or mangled members
        raise CheckpointError(f"cannot read checkpoint {path}: the file is damaged ({err}); {fix}") from err
    if bad is not None:
        raise CheckpointError(
            f"cannot read checkpoint {path}: it failed its integrity check (CRC-32 mismatch in {bad}), "
            f"the file is damaged; {fix}"
        )


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(..., weights_only=True)`` after checking its integrity.

    Args:
        path: a checkpoint file, or the run directory holding ``checkpoint.pt``.
        map_location: where to put the tensors.

    Returns:
        The saved dict (with ``format``).

    Raises:
        CheckpointError: if the file is missing, empty, damaged (a zip CRC does not match), unsafe (holds
            Python objects) or not a ``pairs`` checkpoint. The message names the file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    verify_checkpoint(path)  # before unpickling anything
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or unsafe files
        if isinstance(err, pickle.UnpicklingError):  # torch's text: paragraphs with terminal escapes
            why = "it holds pickled Python objects, which are never loaded (a checkpoint is plain data)"
        else:
            why = first_line(str(err)) or type(err).__name__
        raise CheckpointError(f"cannot read checkpoint {path}: {why}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pairs checkpoint (expected a dict with format={FORMAT!r})")
    return state


def load_weights(model: torch.nn.Module, weights: dict[str, Any], path: str | os.PathLike) -> None:
    """Load a run's weights (a checkpoint's ``"method"`` state) into the model its checkpoint describes.

    Args:
        model: the rebuilt model (a :class:`~pairs.methods.base.Method`).
        weights: its state dict from the checkpoint.
        path: the checkpoint, named in the message.

    Raises:
        CheckpointError: the weights do not fit the model (missing, unexpected or differently shaped
            entries; the message gives torch's first line).
    """
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(
            f"checkpoint {path} does not fit the model it describes: {str(err).splitlines()[0]}"
        ) from err


def _tensors(value: Any, prefix: str) -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(value, torch.Tensor):
        yield prefix, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _tensors(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _tensors(item, f"{prefix}.{i}" if prefix else str(i))


def non_finite_entries(state: Any, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors (and float numbers) in a nested state that hold NaN or inf.

    Args:
        state: a ``state_dict``-like nest of dicts, lists and tensors.
        prefix: prepended to the names.

    Returns:
        Dotted names such as ``"method.encoder.net.1.weight"`` or ``"optimizer.state.3.exp_avg"``.
    """
    bad = []
    for name, tensor in _tensors(state, prefix):
        if (tensor.is_floating_point() or tensor.is_complex()) and not bool(torch.isfinite(tensor).all()):
            bad.append(name)
    return bad
