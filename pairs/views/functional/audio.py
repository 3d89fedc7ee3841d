"""Audio kernels, gathered under the :mod:`pairs.views.functional` layout.

They are defined next to their views (:mod:`pairs.views.audio`, :mod:`pairs.views.audio_pitch`) and
re-exported here unchanged, so every domain's kernels are found at ``pairs.views.functional.<domain>``.
"""

from __future__ import annotations

from pairs.views.audio import add_noise, filter_fft, gain, pitch_shift, resample_at, time_shift, time_stretch

__all__ = ["pitch_shift", "time_stretch", "time_shift", "gain", "add_noise", "filter_fft", "resample_at"]
