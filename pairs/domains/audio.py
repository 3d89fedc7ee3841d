"""Audio defaults: speech/music views, the log-mel CNN, SimCLR, linear probe + kNN on the held-out split.

For ``speech`` the labels are recording sets (a speaker/recording-condition proxy, see
:mod:`pairs.data.audio`), so the probe measures whether the features separate speakers and channels;
unlabeled folders (``audio:DIR`` without class sub-folders) get ``{}`` from the evaluation.
"""

from __future__ import annotations

from pairs.data.audio import sample_rate_of
from pairs.data.registry import DataBundle
from pairs.data.source import sample_shape
from pairs.domains import Recipe, register_recipe
from pairs.domains.preview import draw_audio_item, preview_audio
from pairs.eval.audio_protocols import mfcc_baseline
from pairs.eval.protocols import probe_and_knn
from pairs.views import audio as av


def cpc_window_length(bundle: DataBundle) -> int:
    """CPC's training window: 80% of the clip length, a whole number of 10 ms frames (at least one frame).

    A random fixed-length window of each clip, no augmentation (``--method cpc --views cpc_window``).
    """
    hop = max(1, sample_rate_of(bundle) // 100)
    t = int(sample_shape(bundle.train)[-1])
    return max(hop, (int(0.8 * t) // hop) * hop)


def audio_recipe(bundle: DataBundle) -> Recipe:
    """Defaults for waveform data ``(N, C, T)`` with ``bundle.info["sample_rate"]``."""
    sr = sample_rate_of(bundle)
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
        draw_item=draw_audio_item,
        preprocess_state={"sample_rate": sr},
    )


register_recipe("audio", audio_recipe)
