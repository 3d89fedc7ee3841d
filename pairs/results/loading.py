"""A trained run back in Python: :func:`load_method`, :func:`load_encoder` and per-domain ``preprocess``.

A run directory written by ``pairs train`` holds ``checkpoint.pt``: the method's ``state_dict`` and the
plain-data description of the model (encoder name and settings, method name and settings, data spec,
domain). :func:`load_method` rebuilds the method from that description and loads the weights;
:func:`load_encoder` returns its encoder in eval mode with a ``preprocess`` attribute that turns raw inputs
of the run's domain into the encoder's input, so a user's code is two lines::

    encoder = pairs.load_encoder("runs/digits")
    z = encoder(encoder.preprocess(images))  # images: files, PIL images, arrays or tensors -> (B, D)

``preprocess`` repeats what the run's evaluation did to its data (series: the train split's channel
standardisation; graphs: the run's node features for featureless graphs), so the features are the run's
own, bit for bit (same inputs, same batch size).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from pairs.errors import CheckpointError, DataError

if TYPE_CHECKING:
    from pairs.methods.base import Method

__all__ = ["Preprocess", "load_run", "load_method", "load_encoder", "RunInfo"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class RunInfo:
    """What a run's checkpoint says about the model: its description and where it came from.

    Attributes:
        path: the checkpoint file.
        extra: the description written by ``pairs train`` (``data``, ``domain``, ``encoder``,
            ``encoder_kwargs``, ``method``, ``method_kwargs``, ``seed``, ``views``, ``batch_size``).
        epoch: epochs completed.
    """

    def __init__(self, path: Path, extra: dict[str, Any], epoch: int) -> None:
        self.path = path
        self.extra = extra
        self.epoch = epoch
        self._bundle: Any = None

    @property
    def run_dir(self) -> Path:
        return self.path.parent

    @property
    def domain(self) -> str:
        return str(self.extra["domain"])

    @property
    def data(self) -> str:
        return str(self.extra["data"])

    def bundle(self) -> Any:
        """The run's training data (loaded once, on first use)."""
        if self._bundle is None:
            from pairs.data import load_data

            try:
                self._bundle = load_data(self.data)
            except ValueError as err:
                raise DataError(
                    f"the run in {self.run_dir} was trained on {self.data!r}, which is needed to rebuild its "
                    f"input normalisation but cannot be loaded: {err}"
                ) from err
        return self._bundle


def _checkpoint_path(run: str | os.PathLike) -> Path:
    path = Path(run).expanduser()
    if path.is_dir():
        path = path / "checkpoint.pt"
        if not path.exists():
            raise CheckpointError(
                f"{run} holds no checkpoint.pt; expected a run directory written by `pairs train` "
                "(or the path of its checkpoint.pt)"
            )
    elif not path.exists():
        raise CheckpointError(f"run not found: {run} (expected a run directory or its checkpoint.pt)")
    return path


def load_run(run: str | os.PathLike) -> tuple[RunInfo, dict[str, Any]]:
    """Read a run's checkpoint.

    Args:
        run: a run directory or its ``checkpoint.pt``.

    Returns:
        ``(info, state)``: the run's description and the checkpoint's state dict.

    Raises:
        CheckpointError: no checkpoint, an unreadable one, or one not written by ``pairs train``.
    """
    from pairs.train import load_checkpoint

    path = _checkpoint_path(run)
    try:
        state = load_checkpoint(path)
    except ValueError as err:
        raise CheckpointError(str(err)) from err
    extra = dict(state.get("extra", {}))
    missing = [k for k in ("data", "domain", "encoder", "method") if k not in extra]
    if missing or "method" not in state:
        raise CheckpointError(
            f"{path} was not written by `pairs train` (it lacks {', '.join(missing) or 'the weights'}); "
            "load it with torch.load and your own model instead"
        )
    return RunInfo(path, extra, int(state.get("epoch", 0))), state


def load_method(run: str | os.PathLike, device: str | torch.device = "cpu") -> Method:
    """Rebuild a run's method (encoder, heads, targets) with its trained weights, in eval mode.

    Args:
        run: a run directory or its ``checkpoint.pt``.
        device: where the module is placed.

    Returns:
        The :class:`pairs.methods.base.Method`, in eval mode, with ``method.encoder.preprocess`` set (see
        :func:`load_encoder`) and ``method.run`` (:class:`RunInfo`).

    Raises:
        CheckpointError: no checkpoint, not a ``pairs train`` checkpoint, or weights that do not fit.
    """
    from pairs.train.checkpoint import load_weights

    info, state = load_run(run)
    model = _build(info)
    load_weights(model, state["method"], info.path)
    model.to(device).eval()
    model.encoder.preprocess = make_preprocess(info)  # type: ignore[assignment]  # a plain attribute
    model.run = info  # type: ignore[assignment]  # a plain attribute, not a tensor or module
    return model


def load_encoder(run: str | os.PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """The trained encoder of a run, in eval mode, with a ``preprocess`` callable.

    ``encoder(encoder.preprocess(inputs))`` gives the run's features ``(B, D)`` for raw inputs of its
    domain (see :class:`Preprocess`). Wrap calls in ``torch.no_grad()`` when no gradients are needed.

    Args:
        run: a run directory or its ``checkpoint.pt``.
        device: where the encoder is placed (``preprocess`` returns CPU batches; move them there).

    Returns:
        The encoder ``nn.Module`` with attributes ``preprocess`` (:class:`Preprocess`) and ``run``
        (:class:`RunInfo`).

    Raises:
        CheckpointError: no checkpoint, not a ``pairs train`` checkpoint, or weights that do not fit.

    Example::

        encoder = pairs.load_encoder("runs/digits")
        with torch.no_grad():
            z = encoder(encoder.preprocess(["a.png", "b.png"]))  # (2, D)
    """
    method = load_method(run, device)
    encoder: nn.Module = method.encoder
    encoder.run = method.run
    return encoder


def run_info(encoder: nn.Module) -> RunInfo:
    """The :class:`RunInfo` that :func:`load_encoder` attached to ``encoder`` as ``encoder.run``."""
    return cast(RunInfo, encoder.run)


def preprocess_of(encoder: nn.Module) -> Preprocess:
    """The :class:`Preprocess` that :func:`load_encoder` attached to ``encoder`` as ``encoder.preprocess``."""
    return cast(Preprocess, encoder.preprocess)


def _build(info: RunInfo) -> Method:
    import encoders
    from pairs.methods import build_method

    extra = info.extra
    torch.manual_seed(int(extra.get("seed", 0)))  # as pairs train built it (buffers drawn at init)
    try:
        encoder = encoders.get(extra["encoder"], **dict(extra.get("encoder_kwargs") or {}))
        return build_method(extra["method"], encoder, **dict(extra.get("method_kwargs") or {}))
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(f"cannot rebuild the model described in {info.path}: {err}") from err


# --------------------------------------------------------------------------------------------------
# preprocess: raw inputs of a domain -> the encoder's input batch
# --------------------------------------------------------------------------------------------------
class Preprocess:
    """Turns raw inputs of one domain into a batch for the run's encoder (on the CPU).

    Accepted inputs per domain (a single item or a sequence of them):

    * image: image files (paths), PIL images, arrays/tensors ``(H, W)``, ``(C, H, W)`` or ``(B, C, H, W)``
      with values in ``[0, 1]`` (uint8 arrays are divided by 255); files are read as the run's data was
      (grey or RGB to the run's channels, resized to its size);
    * series: arrays/tensors ``(T,)``, ``(C, T)`` or ``(B, C, T)``, standardised as the run's evaluation did;
    * audio: audio files (paths), waveforms ``(T,)``, ``(C, T)`` or ``(B, C, T)`` at the run's sample rate
      (files are resampled to it); a list of waveforms is padded to the longest;
    * text: a string or a list of strings;
    * graph: PyG ``Data`` objects or networkx graphs (a list of them or a ``Batch``).

    Attributes:
        domain: the run's domain.
        batch_size: the batch size the run's evaluation used (features are bit-for-bit the run's at this
            batch size).

    Shape:
        image ``-> (B, C, H, W)``; series, audio ``-> (B, C, T)``; text ``-> list[str]``; graph
        ``-> Batch``.
    """

    def __init__(self, domain: str, fn: Callable[[Any], Any], batch_size: int = 256, info: str = "") -> None:
        self.domain = domain
        self._fn = fn
        self.batch_size = int(batch_size)
        self._info = info

    def __call__(self, inputs: Any) -> Any:
        return self._fn(inputs)

    def __repr__(self) -> str:
        return f"Preprocess(domain={self.domain!r}{', ' + self._info if self._info else ''})"


def make_preprocess(info: RunInfo) -> Preprocess:
    """The :class:`Preprocess` of a run's domain.

    A domain registered by a plug-in (no preprocess known here) gets one that passes its inputs on as the
    encoder takes them (a list of tensors is stacked into a batch).
    """
    builders = {
        "image": _image_preprocess,
        "series": _series_preprocess,
        "audio": _audio_preprocess,
        "text": _text_preprocess,
        "graph": _graph_preprocess,
    }
    if info.domain not in builders:
        return Preprocess(info.domain, _as_batch, info="inputs as the encoder takes them")
    return builders[info.domain](info)


def _as_batch(inputs: Any) -> Any:
    if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(x, torch.Tensor) for x in inputs):
        return torch.stack(list(inputs))
    return inputs


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def _as_float_tensor(x: Any, what: str) -> Tensor:
    if isinstance(x, Tensor):
        t = x.detach().cpu()
    else:
        try:
            arr = np.asarray(x)
        except Exception as err:  # noqa: BLE001 - any conversion failure is the user's input
            raise DataError(f"cannot read {what} from {type(x).__name__}: {err}") from err
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise DataError(f"expected numeric {what}, got an array of {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.dtype == torch.uint8:
        return t.float() / 255.0 if what == "images" else t.float()
    if t.is_floating_point():
        return t if t.dtype in (torch.float32, torch.float64) else t.float()
    return t.float()


def _items(inputs: Any) -> list[Any] | None:
    """A list of items for list-like inputs (sequence of paths, arrays, ...), else ``None``."""
    if isinstance(inputs, (list, tuple)):
        if not inputs:
            raise DataError("preprocess got an empty list; give at least one input")
        return list(inputs)
    return None


def _image_preprocess(info: RunInfo) -> Preprocess:
    kwargs = info.extra.get("encoder_kwargs") or {}
    channels = int(kwargs.get("in_channels", 0)) or None
    size_cache: dict[str, int] = {}

    def size() -> int:
        if "size" not in size_cache:
            shape = info.extra.get("input_shape")
            if not shape:
                from pairs.data.source import sample_shape

                shape = sample_shape(info.bundle().train)  # a tensor or a streamed source
            size_cache["size"] = int(shape[-1])
        return size_cache["size"]

    def read(path: Any) -> Tensor:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                return _from_pil(img)
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"cannot read image {path}: {err}") from err

    def _from_pil(img: Any) -> Tensor:
        from PIL import Image

        rgb = img.convert("RGB").resize((size(), size()), Image.Resampling.BILINEAR)
        if channels == 1:
            arr = np.asarray(rgb.convert("L"), dtype=np.float32)[None] / 255.0
        else:
            arr = np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) / 255.0
        return torch.from_numpy(np.ascontiguousarray(arr))

    def one(x: Any) -> Tensor:
        if _is_path(x):
            return read(x)
        if type(x).__module__.startswith("PIL."):
            return _from_pil(x)
        t = _as_float_tensor(x, "images")
        if t.dim() == 2:
            t = t.unsqueeze(0)
        if t.dim() != 3:
            raise DataError(f"expected one image (H, W) or (C, H, W), got shape {tuple(t.shape)}")
        return t

    def fn(inputs: Any) -> Tensor:
        items = _items(inputs)
        if items is None:
            if _is_path(inputs) or type(inputs).__module__.startswith("PIL."):
                items = [inputs]
            else:
                t = _as_float_tensor(inputs, "images")
                batch = t.unsqueeze(0) if t.dim() in (2, 3) else t
                if batch.dim() == 3:
                    batch = batch.unsqueeze(1)
                return _check_channels(batch)
        tensors = [one(x) for x in items]
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) > 1:
            raise DataError(f"images of different shapes {sorted(shapes)}; give files or resize them first")
        return _check_channels(torch.stack(tensors))

    def _check_channels(batch: Tensor) -> Tensor:
        if batch.dim() != 4:
            raise DataError(f"expected images (B, C, H, W), got shape {tuple(batch.shape)}")
        if channels is not None and batch.shape[1] != channels:
            raise DataError(
                f"the run's encoder takes {channels}-channel images, got {batch.shape[1]} channels "
                f"(shape {tuple(batch.shape)})"
            )
        return batch

    return Preprocess("image", fn, 256, f"channels={channels}")


def _series_preprocess(info: RunInfo) -> Preprocess:
    from pairs.domains.series import ts2vec_standardizer

    cache: dict[str, Any] = {}

    def standardizer() -> Any:
        if "s" not in cache:
            stats = info.extra.get("standardizer")
            if stats is not None:
                from pairs.domains.series import ChannelStandardizer

                cache["s"] = None if stats == "none" else ChannelStandardizer(stats["mean"], stats["std"])
            else:
                cache["s"] = ts2vec_standardizer(info.bundle())
        return cache["s"]

    def fn(inputs: Any) -> Tensor:
        items = _items(inputs)
        if items is not None:
            ts = [_as_float_tensor(x, "series") for x in items]
            ts = [t.unsqueeze(0) if t.dim() == 1 else t for t in ts]
            if any(t.dim() != 2 for t in ts) or len({tuple(t.shape) for t in ts}) > 1:
                raise DataError(
                    f"a list of series must hold (T,) or (C, T) series of one shape, got "
                    f"{sorted({tuple(t.shape) for t in ts})}"
                )
            batch = torch.stack(ts)
        else:
            t = _as_float_tensor(inputs, "series")
            batch = t.reshape(1, 1, -1) if t.dim() == 1 else (t.unsqueeze(0) if t.dim() == 2 else t)
        if batch.dim() != 3:
            raise DataError(f"expected series (T,), (C, T) or (B, C, T), got shape {tuple(batch.shape)}")
        s = standardizer()
        return batch if s is None else s(batch)

    return Preprocess("series", fn, 64)


def _audio_preprocess(info: RunInfo) -> Preprocess:
    kwargs = info.extra.get("encoder_kwargs") or {}
    rate_cache: dict[str, int] = {}

    def rate() -> int:
        if "sr" not in rate_cache:
            sr = kwargs.get("sample_rate") or info.extra.get("sample_rate")
            rate_cache["sr"] = int(sr) if sr else int(info.bundle().info.get("sample_rate", 16000))
        return rate_cache["sr"]

    def one(x: Any) -> Tensor:
        if _is_path(x):
            from pairs.data.audio import load_audio

            try:
                wave, _ = load_audio(x, sample_rate=rate())
            except ValueError as err:
                raise DataError(str(err)) from err
            return wave
        t = _as_float_tensor(x, "waveforms")
        return t.unsqueeze(0) if t.dim() == 1 else t

    def fn(inputs: Any) -> Tensor:
        items = _items(inputs)
        if items is None and not _is_path(inputs):
            t = _as_float_tensor(inputs, "waveforms")
            batch = t.reshape(1, 1, -1) if t.dim() == 1 else (t.unsqueeze(0) if t.dim() == 2 else t)
            if batch.dim() != 3:
                raise DataError(
                    f"expected waveforms (T,), (C, T) or (B, C, T), got shape {tuple(batch.shape)}"
                )
            return batch
        waves = [one(x) for x in (items or [inputs])]
        if any(w.dim() != 2 for w in waves) or len({w.shape[0] for w in waves}) > 1:
            raise DataError("a list of waveforms must hold (T,) or (C, T) waves with one channel count")
        longest = max(w.shape[-1] for w in waves)
        return torch.stack([nn.functional.pad(w, (0, longest - w.shape[-1])) for w in waves])

    return Preprocess("audio", fn, 256)


def _text_preprocess(info: RunInfo) -> Preprocess:
    def fn(inputs: Any) -> list[str]:
        if isinstance(inputs, str):
            return [inputs]
        if isinstance(inputs, Sequence) and all(isinstance(s, str) for s in inputs):
            if not inputs:
                raise DataError("preprocess got an empty list; give at least one string")
            return list(inputs)
        raise DataError(f"text runs take a string or a list of strings, got {type(inputs).__name__}")

    return Preprocess("text", fn, 256)


def _graph_preprocess(info: RunInfo) -> Preprocess:
    cache: dict[str, Any] = {}

    def collate() -> Any:
        if "c" not in cache:
            from pairs.data.graph_collate import GraphCollate, collate_for

            stats = info.extra.get("graph_collate")
            cache["c"] = GraphCollate(**stats) if stats is not None else collate_for(info.bundle())
        return cache["c"]

    def one(g: Any) -> Any:
        from torch_geometric.data import Data

        if isinstance(g, Data):
            return g
        if type(g).__module__.startswith("networkx"):
            from torch_geometric.utils import from_networkx

            data = from_networkx(g)
            return Data(edge_index=data.edge_index, num_nodes=data.num_nodes)
        raise DataError(f"graph runs take torch_geometric Data or networkx graphs, got {type(g).__name__}")

    def fn(inputs: Any) -> Any:
        from torch_geometric.data import Batch

        if isinstance(inputs, Batch):
            return collate()(inputs)
        items = _items(inputs)
        return collate()([one(g) for g in (items if items is not None else [inputs])])

    return Preprocess("graph", fn, 256)
