"""Time-series defaults: TS2Vec (overlapping crops, dilated conv encoder, hierarchical contrast) and the
TS2Vec classification protocol (frozen encoder, max-pooled series representation, RBF SVM).

``pairs train --data ucr:GunPoint`` uses :func:`series_recipe`:

* data preparation as TS2Vec's loaders (:func:`ts2vec_standardizer`): univariate UCR sets are used as
  published (the UCR archive z-normalises each series; TS2Vec's ``load_UCR`` re-standardises only the
  few sets of :data:`TS2VEC_RENORMALISED_UCR`, with the train split's mean and std); multivariate (UEA)
  sets and ``series:FILE`` data have every channel standardised with the train split's mean and
  standard deviation (NaN ignored; TS2Vec's ``load_UEA``); variable-length (NaN-padded) series are
  centred in ``T`` before cropping, as TS2Vec's ``fit`` does; series longer than 3,000 timestamps are
  randomly cropped to 3,000 (TS2Vec's ``max_train_length``);
* views ``"ts2vec"`` (the default): :class:`~pairs.views.temporal.OverlappingCrops`; ``"default"``: random
  crop, jitter, scaling and time warp, for instance-level contrast with ``--method simclr`` (NT-Xent on
  the max-pooled crops);
* encoder ``dilated_conv`` (TS2Vec's TSEncoder: hidden 64, 320-d representations, depth 10, binomial
  timestamp masking in training); method ``ts2vec``;
* budget as TS2Vec's ``train.py``: batch 8, AdamW with lr 1e-3 and weight decay 0.01 (AdamW's default) on
  every parameter, biases included, and 200 optimizer steps (600 when the train split holds more than
  100,000 values), the last epoch stopping early if need be;
* evaluation (:func:`evaluate_series`): ``svm_acc`` (TS2Vec's protocol, including its unshuffled 5-fold
  choice of ``C``), ``linear_probe_acc`` and ``knn_acc`` on the same frozen features.

Known difference from the reference code: padding timestamps of variable-length series are left out of
the max pool (TS2Vec pools them too). ``--epochs N`` replaces the step budget by ``N`` whole epochs.

Reference:
    Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time Series", AAAI; reference code
    zhihanyue/ts2vec (``train.py``, ``ts2vec.py``, ``datautils.py``, ``tasks/classification.py``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import Tensor, nn

from pairs.data.registry import DataBundle
from pairs.data.source import evaluation_subset, sample_shape, take
from pairs.domains import Recipe, register_recipe
from pairs.domains.preview import draw_series_item, preview_series
from pairs.errors import DataError, DataTypeError
from pairs.eval import series_protocols
from pairs.eval.series_protocols import encode_series
from pairs.validation import listed_positions
from pairs.views.base import Compose, View
from pairs.views.temporal import OverlappingCrops, RandomCrop, SeriesView, default_series_view

__all__ = [
    "ChannelStandardizer",
    "CenterPadded",
    "TS2VEC_RENORMALISED_UCR",
    "check_series_bundle",
    "encode_series",
    "evaluate_series",
    "preview_series",
    "series_recipe",
    "ts2vec_iterations",
    "ts2vec_standardizer",
    "MAX_TRAIN_LENGTH",
]

MAX_TRAIN_LENGTH = 3000
"""TS2Vec's ``max_train_length``: longer training series are cropped to this many timestamps."""

BATCH_SIZE = 8
"""TS2Vec's batch size (``train.py``)."""

TS2VEC_RENORMALISED_UCR = frozenset(
    {
        "AllGestureWiimoteX",
        "AllGestureWiimoteY",
        "AllGestureWiimoteZ",
        "BME",
        "Chinatown",
        "Crop",
        "EOGHorizontalSignal",
        "EOGVerticalSignal",
        "Fungi",
        "GestureMidAirD1",
        "GestureMidAirD2",
        "GestureMidAirD3",
        "GesturePebbleZ1",
        "GesturePebbleZ2",
        "GunPointAgeSpan",
        "GunPointMaleVersusFemale",
        "GunPointOldVersusYoung",
        "HouseTwenty",
        "InsectEPGRegularTrain",
        "InsectEPGSmallTrain",
        "MelbournePedestrian",
        "PickupGestureWiimoteZ",
        "PigAirwayPressure",
        "PigArtPressure",
        "PigCVP",
        "PLAID",
        "PowerCons",
        "Rock",
        "SemgHandGenderCh2",
        "SemgHandMovementCh2",
        "SemgHandSubjectCh2",
        "ShakeGestureWiimoteZ",
        "SmoothSubspace",
        "UMD",
        "UnitTest",  # sktime's bundled test set: a part of Chinatown (raw pedestrian counts, mean ~640)
    }
)
"""The univariate UCR sets that TS2Vec's ``load_UCR`` standardises (with the train split's mean and std):
the sets of the 2018 archive that are not z-normalised per series (plus sktime's ``UnitTest``, cut from
Chinatown). Every other UCR set is used as is."""


class ChannelStandardizer(SeriesView):
    """Standardise every channel with fixed statistics (a deterministic view: no random parameters).

    Built with :meth:`fit` on a train split, it maps ``x`` to ``(x - mean[c]) / std[c]`` per channel, as
    TS2Vec's ``load_UEA`` (``StandardScaler`` over all timestamps of the train split). NaN stays NaN.

    Args:
        mean: ``(C,)`` channel means.
        std: ``(C,)`` channel standard deviations (zeros are replaced by 1).

    Raises:
        ValueError: if ``mean`` and ``std`` differ in shape or hold non-finite values, or (at call time) if
            the series have another number of channels.

    Shape:
        ``(B, C, T) -> (B, C, T)``.

    Reference:
        Yue et al. 2022 (TS2Vec), ``datautils.load_UEA``.
    """

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        mean = torch.as_tensor(mean, dtype=torch.float64).flatten()
        std = torch.as_tensor(std, dtype=torch.float64).flatten()
        if mean.shape != std.shape or mean.numel() == 0:
            raise ValueError(
                f"mean and std must both be (C,), got {tuple(mean.shape)} and {tuple(std.shape)}"
            )
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all()):
            raise ValueError("mean and std must be finite")
        self.mean = mean
        self.std = torch.where(std > 0, std, torch.ones_like(std))

    @classmethod
    def fit(cls, x: Tensor) -> ChannelStandardizer:
        """Channel statistics of ``x (N, C, T)`` over all series and timestamps, ignoring NaN.

        Raises:
            ValueError: if ``x`` is not ``(N, C, T)`` or a channel holds no value at all.
        """
        x = torch.as_tensor(x)
        if x.dim() != 3:
            raise ValueError(f"expected series (N, C, T), got shape {tuple(x.shape)}")
        flat = x.transpose(0, 1).reshape(x.shape[1], -1).double()  # (C, N*T)
        valid = ~torch.isnan(flat)
        count = valid.sum(dim=1)
        if bool((count == 0).any()):
            empty = (count == 0).nonzero().flatten().tolist()
            raise DataError(f"channel(s) {empty} hold no value (NaN everywhere) in the train split")
        filled = torch.where(valid, flat, torch.zeros_like(flat))
        mean = filled.sum(dim=1) / count
        var = (torch.where(valid, flat - mean[:, None], torch.zeros_like(flat)) ** 2).sum(dim=1) / count
        return cls(mean, var.sqrt())

    def sample(self, batch: Tensor, generator: torch.Generator) -> dict[str, Any]:
        return {}

    def apply(self, batch: Tensor, params: dict[str, Any]) -> Tensor:
        if batch.dim() != 3 or batch.shape[1] != self.mean.numel():
            raise ValueError(
                f"ChannelStandardizer was fit on {self.mean.numel()} channels, got series of shape "
                f"{tuple(batch.shape)} (expected (B, {self.mean.numel()}, T))"
            )
        mean = self.mean.to(device=batch.device, dtype=batch.dtype)[None, :, None]
        std = self.std.to(device=batch.device, dtype=batch.dtype)[None, :, None]
        return (batch - mean) / std

    def __call__(self, x: Any, generator: Any = None, *, return_params: bool = False) -> Any:
        if isinstance(x, Tensor) and x.dim() == 3 and generator is None and not return_params:
            return self.apply(x, {})  # the plain transform (also used on evaluation batches)
        return super().__call__(x, generator, return_params=return_params)

    def __repr__(self) -> str:
        return f"ChannelStandardizer(channels={self.mean.numel()})"


class CenterPadded(SeriesView):
    """Centre NaN-padded series in ``T`` (TS2Vec's ``centerize_vary_length_series``), deterministically.

    Each series is rolled so that its leading and trailing all-NaN padding are (nearly) equal; TS2Vec does
    this to the training set of variable-length data before cropping.

    Shape:
        ``(B, C, T) -> (B, C, T)``.

    Reference:
        Yue et al. 2022 (TS2Vec), ``utils.centerize_vary_length_series``.
    """

    def sample(self, batch: Tensor, generator: torch.Generator) -> dict[str, Any]:
        return {}

    def apply(self, batch: Tensor, params: dict[str, Any]) -> Tensor:
        valid = ~torch.isnan(batch).all(dim=1)  # (B, T)
        if bool(valid.all()):
            return batch
        t = batch.shape[-1]
        prefix = valid.to(torch.int8).argmax(dim=1)
        suffix = valid.flip(1).to(torch.int8).argmax(dim=1)
        offset = (prefix + suffix) // 2 - prefix  # TS2Vec: roll right by this many timestamps
        source = (torch.arange(t, device=batch.device)[None, :] - offset[:, None]) % t
        return batch.gather(2, source[:, None, :].expand(-1, batch.shape[1], -1))


SAMPLE_SERIES = 10_000
"""Series of a streamed file the recipe looks at (checks, the standardiser's statistics): a seeded sample."""


def in_memory(bundle: DataBundle, limit: int = SAMPLE_SERIES) -> DataBundle:
    """``bundle`` itself when it is in memory; for a streamed one, a copy holding tensors of at most
    ``limit`` series per split (a seeded random subset, :func:`pairs.data.source.evaluation_subset`)."""
    if not bundle.streamed:
        return bundle
    parts: dict[str, Any] = {}
    for split in ("train", "test"):
        data = getattr(bundle, split)
        if data is None:
            parts[split], parts[f"{split}_labels"] = None, None
            continue
        part = evaluation_subset(data, limit)
        parts[split] = take(part, range(len(part)))
        parts[f"{split}_labels"] = part.labels
    return dataclasses.replace(bundle, **parts)


def check_series_bundle(bundle: DataBundle) -> None:
    """Validate series data before training: ``(N, C, T)`` float tensors, no all-NaN series, ``T >= 2``.

    Raises:
        ValueError: naming the split and the series at fault, or the shape that was expected.
        TypeError: if the samples are not tensors.
    """
    for split, x in (("train", bundle.train), ("test", bundle.test)):
        if x is None:
            continue
        if not isinstance(x, Tensor):
            raise DataTypeError(
                f"{bundle.spec}: the {split} series must be a tensor (N, C, T), got {type(x).__name__}"
            )
        if x.dim() != 3:
            raise DataError(
                f"{bundle.spec}: the {split} series must be (N, C, T) (N series, C channels, T timestamps), "
                f"got shape {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise DataTypeError(f"{bundle.spec}: the {split} series must be floating point, got {x.dtype}")
        for bad, problem in (
            (torch.isnan(x).flatten(1).all(dim=1), "are NaN everywhere (no data); remove them first"),
            (torch.isinf(x).flatten(1).any(dim=1), "hold +-inf; mark missing values with NaN or clip them"),
        ):
            if bool(bad.any()):
                shown = listed_positions(bad.nonzero().flatten().tolist())
                raise DataError(f"{bundle.spec}: {split} series {shown} {problem}")
    t = int(bundle.train.shape[-1])
    if t < 2:
        raise DataError(
            f"{bundle.spec}: the series have T={t} timestamps; TS2Vec's overlapping crops need at least 2"
        )


def ts2vec_iterations(bundle: DataBundle) -> int:
    """TS2Vec's default number of optimizer steps: 200 when the train split holds at most 100,000 values
    (``N * T * C``), else 600."""
    return 200 if len(bundle.train) * math.prod(sample_shape(bundle.train)) <= 100_000 else 600


def _epochs_for(bundle: DataBundle, iterations: int, batch_size: int) -> int:
    n = len(bundle.train)
    steps = max(1, n // min(batch_size, n))  # ViewLoader drops the last incomplete batch
    return max(1, math.ceil(iterations / steps))


def ts2vec_standardizer(bundle: DataBundle) -> ChannelStandardizer | None:
    """The input normalisation of TS2Vec's data loaders, fit on the train split.

    * univariate UCR sets (``ucr:NAME`` with one channel): ``None`` (the data as published, which the UCR
      archive z-normalises per series), except the sets of :data:`TS2VEC_RENORMALISED_UCR`, which are
      standardised with the train split's mean and std (``load_UCR``);
    * multivariate UEA sets: every channel standardised with the train split's statistics (``load_UEA``'s
      ``StandardScaler``);
    * other data (``series:FILE``): every channel standardised, as for UEA sets.

    Args:
        bundle: the data; its ``train`` split must be ``(N, C, T)``.

    Returns:
        A fitted :class:`ChannelStandardizer`, or ``None`` when TS2Vec leaves the data as it is.

    Raises:
        ValueError: if a channel of the train split holds no value.

    Reference:
        Yue et al. 2022 (TS2Vec), ``datautils.load_UCR`` and ``datautils.load_UEA``.
    """
    bundle = in_memory(bundle)
    name = str(bundle.info.get("name", bundle.spec.partition(":")[2]))
    ucr_univariate = bundle.spec.startswith("ucr:") and int(bundle.train.shape[1]) == 1
    if ucr_univariate and name not in TS2VEC_RENORMALISED_UCR:
        return None
    return ChannelStandardizer.fit(bundle.train)


def standardizer_state(standardizer: ChannelStandardizer | None) -> dict[str, list[float]] | str:
    """A fitted standardizer as plain data for a checkpoint: ``{"mean", "std"}`` lists, or ``"none"``."""
    if standardizer is None:
        return "none"
    return {"mean": standardizer.mean.tolist(), "std": standardizer.std.tolist()}


def _prepare(bundle: DataBundle, standardizer: ChannelStandardizer | None, training: bool) -> list[View]:
    steps: list[View] = [] if standardizer is None else [standardizer]
    if training and bool(bundle.info.get("variable_length", False)):
        steps.append(CenterPadded())
    if training and sample_shape(bundle.train)[-1] > MAX_TRAIN_LENGTH:
        steps.append(RandomCrop(MAX_TRAIN_LENGTH))
    return steps


def series_recipe(bundle: DataBundle) -> Recipe:
    """Defaults for series data (see the module docstring).

    Raises:
        ValueError, TypeError: on data the recipe cannot train on (see :func:`check_series_bundle`).
    """
    check_series_bundle(in_memory(bundle))
    standardizer = ts2vec_standardizer(bundle)
    channels = int(sample_shape(bundle.train)[0])
    batch_size = min(BATCH_SIZE, len(bundle.train))
    views = {
        "ts2vec": lambda b: Compose([*_prepare(b, standardizer, True), OverlappingCrops(temporal_unit=0)]),
        "default": lambda b: Compose([*_prepare(b, standardizer, True), *default_series_view().views]),
        # CPC (--method cpc): a random window (80% of T) of each standardised series, no augmentation
        "cpc_window": lambda b: Compose(
            [
                *_prepare(b, standardizer, True),
                RandomCrop(max(2, int(0.8 * min(sample_shape(b.train)[-1], MAX_TRAIN_LENGTH)))),
            ]
        ),
    }
    return Recipe(
        views=views,
        encoder="dilated_conv",
        encoder_kwargs=lambda b: {"in_channels": channels, "hidden": 64, "out_dim": 320, "depth": 10},
        evaluate=evaluate_series,
        method="ts2vec",
        method_kwargs={"alpha": 0.5, "temporal_unit": 0},
        epochs=_epochs_for(bundle, ts2vec_iterations(bundle), batch_size),
        max_steps=ts2vec_iterations(bundle),
        batch_size=batch_size,
        lr=1e-3,
        weight_decay=0.01,
        decay_all_parameters=True,
        optimizer="adamw",
        warmup_epochs=0.0,
        min_lr_ratio=1.0,  # TS2Vec trains at a constant learning rate
        preview=preview_series,
        draw_item=draw_series_item,
        preprocess_state={"standardizer": standardizer_state(standardizer)},
    )


def evaluate_series(
    encoder: nn.Module, bundle: DataBundle, device: torch.device | str = "cpu"
) -> dict[str, Any]:
    """TS2Vec's classification protocol (:func:`pairs.eval.series_protocols.evaluate_series`) on the series
    prepared as in training: both splits in memory, standardised with :func:`ts2vec_standardizer`.

    Returns:
        ``{"svm_acc", "svm_C", "linear_probe_acc", "probe_C", "knn_acc"}``, or ``{}`` when the data has no
        class labels or no held-out split.
    """
    if bundle.train_labels is None or bundle.test is None or bundle.test_labels is None:
        return {}
    standardizer = ts2vec_standardizer(bundle)
    return series_protocols.evaluate_series(encoder, in_memory(bundle), device, standardizer)


register_recipe("series", series_recipe)
