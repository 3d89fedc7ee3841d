"""Audio defaults: speech/music views, the log-mel CNN, SimCLR, linear probe + kNN on the held-out split.

For ``speech`` the labels are recording sets (a speaker/recording-condition proxy, see
:mod:`pairs.data.audio`), so the probe measures whether the features separate speakers and channels;
unlabeled folders (``audio:DIR`` without class sub-folders) get ``{}`` from the evaluation.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from pairs.data.registry import DataBundle
from pairs.data.source import sample_shape, take
from pairs.domains import Recipe, register_recipe
from pairs.domains.evaluation import probe_and_knn
from pairs.views import audio as av


def _rate(bundle: DataBundle) -> int:
    return int(bundle.info.get("sample_rate", 16000))


def cpc_window_length(bundle: DataBundle) -> int:
    """CPC's training window: 80% of the clip length, a whole number of 10 ms frames (at least one frame).

    A random fixed-length window of each clip, no augmentation (``--method cpc --views cpc_window``).
    """
    hop = max(1, _rate(bundle) // 100)
    t = int(sample_shape(bundle.train)[-1])
    return max(hop, (int(0.8 * t) // hop) * hop)


def audio_recipe(bundle: DataBundle) -> Recipe:
    """Defaults for waveform data ``(N, C, T)`` with ``bundle.info["sample_rate"]``."""
    sr = _rate(bundle)
    return Recipe(
        views={
            "speech": lambda b: av.speech_view(sr),
            "music": lambda b: av.music_view(sr),
            "cpc_window": lambda b: av.RandomCropPad(sr, cpc_window_length(b)),
        },
        encoder="logmel_cnn",
        encoder_kwargs=lambda b: {"sample_rate": sr, "width": 16, "blocks": 4, "out_dim": 128},
        evaluate=probe_and_knn,
        baseline=mfcc_baseline,
        method="simclr",
        method_kwargs={"temperature": 0.2},
        epochs=30,
        batch_size=32,
        lr=1e-3,
        weight_decay=1e-4,
        optimizer="adamw",
        warmup_epochs=2.0,
        preview=preview_audio,
    )


def mfcc_baseline(bundle: DataBundle) -> dict[str, Any]:
    """Linear-probe accuracy of mean+std MFCC statistics (:func:`pairs.eval.baselines.mfcc_statistics`) on
    the held-out split, the hand-crafted feature learned audio features should beat.

    Returns:
        ``{"mfcc_probe_acc"}``, or ``{}`` when the data has no labels or no held-out split.
    """
    from pairs.eval import linear_probe
    from pairs.eval.baselines import mfcc_statistics

    if bundle.train_labels is None or bundle.test is None or bundle.test_labels is None:
        return {}
    sr = _rate(bundle)
    if bundle.streamed:  # in batches, from the evaluation subset, read by the workers
        from pairs.data.source import evaluation_subset
        from pairs.domains.evaluation import EVAL_MAX_ITEMS
        from pairs.eval import extract_features

        train_part = evaluation_subset(bundle.train, EVAL_MAX_ITEMS)
        test_part = evaluation_subset(bundle.test, EVAL_MAX_ITEMS)
        train, test = (
            extract_features(functools.partial(mfcc_statistics, sample_rate=sr), part)
            for part in (train_part, test_part)
        )
        probe = linear_probe(train, train_part.labels, test, test_part.labels)
        return {"mfcc_probe_acc": float(probe["acc"])}
    train, test = mfcc_statistics(bundle.train, sr), mfcc_statistics(bundle.test, sr)
    probe = linear_probe(train, bundle.train_labels, test, bundle.test_labels)
    return {"mfcc_probe_acc": float(probe["acc"])}


def preview_audio(bundle: DataBundle, view: Any, n: int, n_views: int, path: str, seed: int) -> None:
    """Draw ``n`` clips (row pairs, from as many classes as there are): waveform (top) and log-spectrogram
    (bottom) of the original and of each view, with the steps each view applied and the parameters it drew
    (semitones, shift, gain, filter cutoff, noise level) under it."""
    from pairs.domains.preview import draw_views, new_figure, pick_rows, row_names, view_lines

    sr = _rate(bundle)
    rows = pick_rows(bundle.train_labels, n, len(bundle.train))
    x = take(bundle.train, rows)
    views, used, params = draw_views(view, x, n_views, seed)
    cols = 1 + len(views)
    fig = new_figure(2.5 * cols, 3.1 * len(rows) + 0.4)
    axes = fig.subplots(2 * len(rows), cols, squeeze=False, height_ratios=[1, 1.6] * len(rows))
    window = torch.hann_window(512)
    names = row_names(bundle, rows)
    for row in range(len(rows)):
        for col, batch in enumerate([x] + views):
            wave = batch[row].detach().float().cpu().mean(0)
            t = torch.arange(wave.shape[-1]) / sr
            ax = axes[2 * row][col]
            ax.plot(t.numpy(), wave.numpy(), lw=0.4)
            ax.set_ylim(-1, 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title("original" if col == 0 else f"view {col}", fontsize=8)
            spec = torch.stft(wave, 512, 128, window=window, return_complex=True).abs()
            ax = axes[2 * row + 1][col]
            ax.imshow(
                (20 * torch.log10(spec + 1e-5)).numpy(),
                origin="lower",
                aspect="auto",
                cmap="magma",
                vmin=-80,
                vmax=20,
                extent=(0, wave.shape[-1] / sr, 0, sr / 2000),
            )
            ax.set_xticks([])
            ax.set_yticks([] if col else [0, sr / 4000])
            if col:
                ax.set_xlabel(view_lines(used[col - 1], params[col - 1], x, row, 44), fontsize=5, loc="left")
        axes[2 * row][0].set_ylabel(names[row] or "", fontsize=7)
        axes[2 * row + 1][0].set_ylabel("kHz", fontsize=6)
    fig.suptitle(
        f"{bundle.spec}: waveform (top) and log-spectrogram (bottom) of each clip and its views; class "
        "at the left, each view's steps and the parameters drawn under it",
        fontsize=9,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")


register_recipe("audio", audio_recipe)
