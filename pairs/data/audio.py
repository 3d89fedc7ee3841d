"""Audio data that works offline: real speech from Debian's pocketsphinx-testdata, a user's audio folder.

Specs registered here:

* ``speech``: the 14 real 16 kHz speech clips of Debian's ``pocketsphinx-testdata`` package (about 46 s:
  LibriVox "Sense and Sensibility" read by one narrator, the ``cards`` and ``tidigits`` clips and three
  command recordings), cut into non-overlapping 1 s windows ``(N, 1, 16000)``. **Labels** are the
  recording set a window comes from (0 ``librivox``: one narrator reading a novel; 1 ``cards``: a
  speaker naming playing cards; 2 ``commands``: ``goforward``/``numbers``/``something``/``tidigits``
  clips): a proxy for speaker and recording conditions, not a speech-content label. Every third
  window of each clip is held out (no overlap between train and held-out windows). Install the clips
  with ``apt-get install pocketsphinx-testdata``.
* ``audio:DIR``: a folder of WAV/FLAC/OGG files (read with soundfile), labels from sub-folder names
  (``DIR/<class>/<file>``) or unlabeled (``DIR/<file>``); resampled to 16 kHz mono and cut or padded to
  1 s by default. ``audio:DIR@SR`` picks the rate, ``audio:DIR@SR@SECONDS`` the clip length. With
  labels, a stratified 80/20 split. A WAV file whose header promises more samples than the file holds (a
  truncated copy) is refused, and so is a clip shorter than 10 ms; shorter clips are zero-padded to the
  clip length and reported (a warning names the shortest file and its length; ``info["padded"]`` counts
  them).

:func:`load_audio` reads one file (mono or stereo kept as channels) and resamples it.
"""

from __future__ import annotations

import logging
import math
import struct
from pathlib import Path

import numpy as np
import torch

from pairs.data.registry import DataBundle, register_data
from pairs.errors import DataError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif")
SPEECH_ROOT = Path("/usr/share/pocketsphinx/test/data")
SPEECH_GROUPS = ("librivox", "cards", "commands")
MAX_SAMPLE_RATE = 768_000
MAX_SECONDS = 3600.0
MIN_CLIP_SECONDS = 0.01
"""Clips shorter than this (10 ms) hold no usable sound: refused rather than padded to the clip length."""

logger = logging.getLogger("pairs")


def check_wav_complete(path: str | Path) -> None:
    """Refuse a WAV file whose ``data`` chunk is shorter than its header says (a truncated copy).

    Files that are not RIFF/WAVE, and streaming headers with an unknown size (0 or 0xFFFFFFFF), are left
    to the decoder.

    Raises:
        DataError: naming the file, the samples the header promises and the samples present.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return
        order = "<" if head[:4] == b"RIFF" else ">"
        size = path.stat().st_size
        block_align = 0
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return
            cid, clen = chunk[:4], struct.unpack(order + "I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(min(clen, 16))
                if len(fmt) >= 14:
                    block_align = struct.unpack(order + "H", fmt[12:14])[0]
                f.seek(clen - len(fmt) + (clen & 1), 1)
            elif cid == b"data":
                if clen in (0, 0xFFFFFFFF):
                    return
                present = size - f.tell()
                if present < clen:
                    unit = block_align or 1
                    raise DataError(
                        f"audio file {path} is truncated: its header promises {clen // unit} samples "
                        f"({clen} bytes) but the file holds {present // unit} ({present} bytes); "
                        "replace it with a complete copy or remove it"
                    )
                return
            else:
                f.seek(clen + (clen & 1), 1)


def load_audio(
    path: str | Path, sample_rate: int | None = None, mono: bool = True
) -> tuple[torch.Tensor, int]:
    """Read an audio file (WAV/FLAC/OGG via soundfile; raw little-endian int16 for ``.raw`` at 16 kHz).

    Args:
        path: the file.
        sample_rate: resample to this rate (``None`` keeps the file's).
        mono: average the channels to one; otherwise keep them (stereo stays ``(2, T)``).

    Returns:
        ``(waveform (C, T) float32 in [-1, 1], sample_rate)``.

    Raises:
        ValueError: missing or unreadable file (the message names it), or an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"audio file not found: {path}")
    if path.suffix.lower() in (".wav", ".wave"):
        try:
            check_wav_complete(path)
        except OSError as err:
            raise DataError(f"cannot read audio file {path}: {err.strerror or err}") from err
    if path.suffix.lower() == ".raw":
        data = np.fromfile(path, dtype="<i2").astype(np.float32)[:, None] / 32768.0
        sr = 16000
    else:
        import soundfile as sf

        try:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError, TypeError) as err:
            raise DataError(f"cannot read audio file {path}: {err} (supported: WAV, FLAC, OGG)") from err
    if data.shape[0] == 0:
        raise DataError(f"audio file {path} holds no samples")
    wave = torch.from_numpy(np.ascontiguousarray(data.T))
    if mono and wave.shape[0] > 1:
        wave = wave.mean(dim=0, keepdim=True)
    if sample_rate is not None and int(sample_rate) != sr:
        import torchaudio.functional as AF

        wave = AF.resample(wave, sr, int(sample_rate))
        sr = int(sample_rate)
    return wave, int(sr)


def fix_length(wave: torch.Tensor, length: int) -> torch.Tensor:
    """Crop the end or zero-pad the end of ``(C, T)`` to ``length`` samples."""
    if wave.shape[-1] >= length:
        return wave[..., :length]
    return torch.nn.functional.pad(wave, (0, length - wave.shape[-1]))


def _speech_files() -> list[tuple[Path, int]]:
    files = [(p, 0) for p in sorted((SPEECH_ROOT / "librivox").glob("*.wav"))]
    files += [(p, 1) for p in sorted((SPEECH_ROOT / "cards").glob("*.wav"))]
    files += [
        (p, 2) for p in sorted(SPEECH_ROOT.glob("*.raw")) + sorted((SPEECH_ROOT / "tidigits").glob("*.raw"))
    ]
    return files


def load_speech(arg: str | None = None) -> DataBundle:
    """The pocketsphinx-testdata clips as 1 s windows with recording-set labels (see module docstring)."""
    files = _speech_files()
    if not files:
        raise DataError(
            f"data spec 'speech' needs Debian's pocketsphinx-testdata clips under {SPEECH_ROOT}; install "
            "them with: apt-get install pocketsphinx-testdata"
        )
    sr, win = 16000, 16000
    train, test, y_train, y_test, sources = [], [], [], [], []
    for path, label in files:
        wave, _ = load_audio(path, sr)
        n = max(1, wave.shape[-1] // win)
        for i in range(n):
            piece = fix_length(wave[:, i * win : (i + 1) * win], win)
            held_out = i % 3 == 2
            (test if held_out else train).append(piece)
            (y_test if held_out else y_train).append(label)
        sources.append(path.name)
    info = {
        "sample_rate": sr,
        "shape": (1, win),
        "source": str(SPEECH_ROOT),
        "files": sources,
        "classes": list(SPEECH_GROUPS),
        "labels": "recording set (0 librivox narrator, 1 cards speaker, 2 command clips): a speaker/"
        "recording-condition proxy",
        "split": "every third 1 s window of each clip held out",
    }
    return DataBundle(
        "speech",
        "audio",
        torch.stack(train),
        torch.tensor(y_train),
        torch.stack(test),
        torch.tensor(y_test),
        info,
    )


def _check_clip_lengths(clips: list[torch.Tensor], paths: list[Path], sr: int, length: int) -> int:
    """Refuse clips under :data:`MIN_CLIP_SECONDS`; report (log a warning) the ones that will be padded.

    Returns:
        How many clips are shorter than ``length`` samples (zero-padded).
    """
    lengths = [int(c.shape[-1]) for c in clips]
    minimum = max(1, int(math.ceil(MIN_CLIP_SECONDS * sr)))
    for n, path in zip(lengths, paths):
        if n < minimum:
            raise DataError(
                f"audio file {path} holds only {n} samples ({1000 * n / sr:.2g} ms at {sr} Hz), too short "
                f"to be a clip (at least {1000 * MIN_CLIP_SECONDS:g} ms); it would be {length / sr:g} s of "
                "padding around nothing: remove it or replace it with a complete recording"
            )
    short = [i for i, n in enumerate(lengths) if n < length]
    if short:
        k = min(short, key=lambda i: lengths[i])
        logger.warning(
            "%d of %d audio files are shorter than the %g s clip length and are zero-padded; the shortest is "
            "%s (%.3g s)",
            len(short),
            len(clips),
            length / sr,
            paths[k],
            lengths[k] / sr,
        )
    return len(short)


def load_audio_folder(arg: str | None) -> DataBundle:
    """A user's folder of audio files (``audio:DIR[@SR[@SECONDS]]``), see the module docstring."""
    if not arg:
        raise DataError("data spec 'audio' needs a folder: use audio:DIR")
    parts = arg.split("@")
    root = Path(parts[0]).expanduser()
    try:
        sr = int(parts[1]) if len(parts) > 1 and parts[1] else 16000
        seconds = float(parts[2]) if len(parts) > 2 and parts[2] else 1.0
    except ValueError as err:
        raise DataError(
            f"audio:DIR@SR@SECONDS needs an integer rate and a number of seconds, got {arg!r}"
        ) from err
    if not 0 < sr <= MAX_SAMPLE_RATE:
        raise DataError(
            f"audio:DIR@SR: the sample rate must be from 1 to {MAX_SAMPLE_RATE} Hz, got {sr} in {arg!r}"
        )
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise DataError(
            f"audio:DIR@SR@SECONDS: the clip length must be a finite number of seconds above 0 and at most "
            f"{MAX_SECONDS:g}, got {parts[2]!r} in {arg!r}"
        )
    if not root.is_dir():
        raise DataError(f"audio folder not found: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    entries: list[tuple[Path, int | None]] = []
    if classes:
        for k, name in enumerate(classes):
            entries += [(p, k) for p in sorted((root / name).iterdir()) if p.suffix.lower() in AUDIO_SUFFIXES]
    else:
        entries = [(p, None) for p in sorted(root.iterdir()) if p.suffix.lower() in AUDIO_SUFFIXES]
    if not entries:
        raise DataError(
            f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in {root} or its class sub-folders "
            "(expected DIR/<class>/<file> or DIR/<file>)"
        )
    length = int(round(seconds * sr))
    if length < 1:
        raise DataError(f"audio:DIR@SR@SECONDS: {seconds:g} s at {sr} Hz is less than one sample ({arg!r})")
    clips = [load_audio(p, sr)[0] for p, _ in entries]
    padded = _check_clip_lengths(clips, [p for p, _ in entries], sr, length)
    waves = torch.stack([fix_length(clip, length) for clip in clips])
    info = {"root": str(root), "sample_rate": sr, "shape": (1, length), "classes": classes, "padded": padded}
    spec = f"audio:{arg}"
    labels = [k for _, k in entries]
    if not classes or len(set(labels)) < 2 or len(entries) < 10:
        info["split"] = "none (unlabeled or too few files): no held-out evaluation"
        y = torch.tensor(labels) if classes else None
        return DataBundle(spec, "audio", waves, y, None, None, info)
    from pairs.data.images import stratified_split

    tr, te = stratified_split(np.asarray(labels), 0.2)
    y = torch.tensor(labels)
    info["split"] = "stratified 80%/20%, random_state=0"
    return DataBundle(spec, "audio", waves[tr], y[tr], waves[te], y[te], info)


register_data(
    "speech",
    load_speech,
    domain="audio",
    description="real 16 kHz speech, 1 s windows (Debian pocketsphinx-testdata; labels: recording set)",
)
register_data(
    "audio",
    load_audio_folder,
    domain="audio",
    description="your WAV/FLAC/OGG folder (DIR/<class>/<file>), 16 kHz mono 1 s; DIR@SR@SECONDS",
    argument="DIR",
)
