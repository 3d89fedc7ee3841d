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
* ``audio:DIR``: a folder of WAV/FLAC/OGG/AIFF files (and MP3, which the installed libsndfile reads),
  labels from sub-folder names (``DIR/<class>/<file>``) or unlabeled (``DIR/<file>``). Streamed
  (:class:`AudioFolderSource`): every file is cut into 1 s windows over its *whole* length (random
  windows each epoch in training, sequential windows for evaluation), read with soundfile's seek and
  resampled to 16 kHz mono in the loader's workers. ``audio:DIR@SR`` picks the rate,
  ``audio:DIR@SR@SECONDS`` the window length. With labels, a stratified 80/20 split of the *files*.
  A WAV file whose header promises more samples than the file holds (a truncated copy) is refused, and
  so is a file shorter than 10 ms; files shorter than one window are zero-padded and reported (a
  warning names the shortest).

:func:`load_audio` reads one file (mono or stereo kept as channels) and resamples it.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from pairs.data.registry import DataBundle, register_data
from pairs.data.source import Source
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


def sample_rate_of(bundle: DataBundle) -> int:
    """The sampling rate of an audio bundle's waveforms: ``bundle.info["sample_rate"]``, else 16 kHz."""
    return int(bundle.info.get("sample_rate", 16000))


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
    train: list[torch.Tensor] = []
    test: list[torch.Tensor] = []
    y_train: list[int] = []
    y_test: list[int] = []
    sources: list[str] = []
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


class AudioFolderSource(Source):
    """Audio files cut into windows over their whole length, read on demand with soundfile's seek.

    Item ``k`` is window ``w`` of file ``f`` (``item_id``: ``path#w``). Indexing reads only the headers
    (``soundfile.info``: frames and rate); a file of ``F`` frames gives ``max(1, ceil(F / W))`` windows
    of ``W`` = ``seconds`` at the file's rate.

    * ``source[k]`` (evaluation): the ``w``-th sequential window (frames ``[w W, (w + 1) W)``, the last
      zero-padded).
    * ``train_item(k, g)``: a random window inside the ``w``-th of ``n`` equal strata of the possible
      starts, so each epoch draws new windows and every part of every file is drawn from.

    Each window is averaged to mono and resampled (torchaudio) to ``sample_rate`` in the worker that reads
    it: ``(1, round(seconds * sample_rate))`` float32.

    Args:
        paths: absolute file paths.
        frames: frames per file.
        rates: sample rate per file.
        labels: class per file, or ``None``.
        classes: class names.
        sample_rate: output rate.
        seconds: window length.
    """

    domain = "audio"

    def __init__(
        self,
        paths: list[str],
        frames: list[int],
        rates: list[int],
        labels: list[int] | None,
        classes: list[str],
        sample_rate: int,
        seconds: float,
    ) -> None:
        super().__init__()
        self.paths, self.classes = paths, list(classes)
        self.sample_rate, self.seconds = int(sample_rate), float(seconds)
        self.length = int(round(seconds * sample_rate))
        self.frames = np.asarray(frames, dtype=np.int64)
        self.rates = np.asarray(rates, dtype=np.int64)
        self.win = np.maximum(1, np.round(self.seconds * self.rates)).astype(np.int64)  # frames per window
        counts = np.maximum(1, -(-self.frames // self.win))
        self.file_of = np.repeat(np.arange(len(paths), dtype=np.int64), counts)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.window_of = np.arange(len(self.file_of), dtype=np.int64) - np.repeat(starts, counts)
        self.n_windows = counts
        self.labels = None if labels is None else torch.as_tensor(np.asarray(labels)[self.file_of])
        self.sample_shape = (1, self.length)
        self.info = {
            "sample_rate": self.sample_rate,
            "window_seconds": self.seconds,
            "files": len(paths),
            "hours": round(float((self.frames / self.rates).sum()) / 3600, 3),
        }

    def __len__(self) -> int:
        return len(self.file_of)

    def item_id(self, i: int) -> str:
        return f"{self.paths[int(self.file_of[i])]}#{int(self.window_of[i])}"

    def _read(self, f: int, start: int) -> torch.Tensor:
        import soundfile as sf

        path, win = self.paths[f], int(self.win[f])
        try:
            with sf.SoundFile(path) as handle:
                handle.seek(start)
                data = handle.read(win, dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError, TypeError) as err:
            raise DataError(
                f"cannot read audio file {path}: {err}; expected {', '.join(AUDIO_SUFFIXES)} audio that "
                "soundfile reads"
            ) from err
        wave = torch.from_numpy(np.ascontiguousarray(data.T)).mean(dim=0, keepdim=True)
        rate = int(self.rates[f])
        if rate != self.sample_rate:
            import torchaudio.functional as AF

            wave = AF.resample(wave, rate, self.sample_rate)
        return fix_length(wave, self.length)

    def __getitem__(self, i: int) -> torch.Tensor:
        f, w = int(self.file_of[i]), int(self.window_of[i])
        return self._read(f, w * int(self.win[f]))

    def train_item(self, i: int, generator: torch.Generator) -> torch.Tensor:
        f, w = int(self.file_of[i]), int(self.window_of[i])
        room = int(self.frames[f] - self.win[f])  # possible starts: [0, room]
        u = float(torch.rand(1, generator=generator, dtype=torch.float64))
        start = int((w + u) * (room + 1) / int(self.n_windows[f])) if room > 0 else 0
        return self._read(f, min(start, max(room, 0)))

    def file_subset(self, files: Sequence[int] | np.ndarray) -> AudioFolderSource:
        """The windows of files ``files`` only (a split by file, so no file is in two splits)."""
        files = list(files)
        labels = None if self.labels is None else [self._file_label(f) for f in files]
        return AudioFolderSource(
            [self.paths[f] for f in files],
            [int(self.frames[f]) for f in files],
            [int(self.rates[f]) for f in files],
            labels,
            self.classes,
            self.sample_rate,
            self.seconds,
        )

    def _file_label(self, f: int) -> int:
        assert self.labels is not None  # asked for labelled sources only
        first = int(np.searchsorted(self.file_of, f))
        return int(self.labels[first])


def _audio_suffixes() -> tuple[str, ...]:
    """The suffixes read: WAV/FLAC/OGG/AIFF, and MP3 when the installed libsndfile reads it (>= 1.1)."""
    import soundfile as sf

    return AUDIO_SUFFIXES + ((".mp3",) if "MP3" in sf.available_formats() else ())


def load_audio_folder(arg: str | None) -> DataBundle:
    """A user's folder of audio files (``audio:DIR[@SR[@SECONDS]]``), see the module docstring.

    Only the headers are read here; the windows are read and resampled later by the loader's workers.
    """
    import soundfile as sf

    if not arg:
        raise DataError("data spec 'audio' needs a folder: use audio:DIR")
    parts = arg.split("@")
    root = Path(parts[0]).expanduser().absolute()
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
    if int(round(seconds * sr)) < 1:
        raise DataError(f"audio:DIR@SR@SECONDS: {seconds:g} s at {sr} Hz is less than one sample ({arg!r})")
    if not root.is_dir():
        raise DataError(f"audio folder not found: {root}")
    suffixes = _audio_suffixes()
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    entries: list[tuple[Path, int | None]] = []
    if classes:
        for k, name in enumerate(classes):
            entries += [(p, k) for p in sorted((root / name).iterdir()) if p.suffix.lower() in suffixes]
    else:
        entries = [(p, None) for p in sorted(root.iterdir()) if p.suffix.lower() in suffixes]
    if not entries:
        raise DataError(
            f"no audio files ({', '.join(suffixes)}) in {root} or its class sub-folders "
            "(expected DIR/<class>/<file> or DIR/<file>)"
        )
    paths, frames, rates = [], [], []
    for path, _ in tqdm(entries, desc="indexing audio", unit="file", disable=None, leave=False):
        try:
            if path.suffix.lower() in (".wav", ".wave"):
                check_wav_complete(path)
            head = sf.info(str(path))
        except (RuntimeError, sf.LibsndfileError, TypeError) as err:
            raise DataError(
                f"cannot read audio file {path}: {err}; expected {', '.join(suffixes)} audio that soundfile "
                "reads (convert it, e.g. with ffmpeg, or remove it)"
            ) from err
        if head.frames < max(1, math.ceil(MIN_CLIP_SECONDS * head.samplerate)):
            raise DataError(
                f"audio file {path} holds only {head.frames} samples "
                f"({1000 * head.frames / head.samplerate:.2g} ms at {head.samplerate} Hz), too short to be a "
                f"recording (at least {1000 * MIN_CLIP_SECONDS:g} ms): remove it or replace it with a "
                "complete recording"
            )
        paths.append(str(path))
        frames.append(int(head.frames))
        rates.append(int(head.samplerate))
    labels = [k for _, k in entries if k is not None] if classes else None  # with classes, every k is set
    everything = AudioFolderSource(paths, frames, rates, labels, classes, sr, seconds)
    durations = np.asarray(frames) / np.asarray(rates)
    short = np.flatnonzero(durations < seconds)
    if len(short):
        k = int(short[np.argmin(durations[short])])
        logger.warning(
            "%d of %d audio files are shorter than the %g s window and are zero-padded; the shortest is %s "
            "(%.3g s)",
            len(short),
            len(paths),
            seconds,
            paths[k],
            durations[k],
        )
    spec = f"audio:{root}" + "".join(f"@{p}" for p in parts[1:])
    info = {
        "root": str(root),
        "sample_rate": sr,
        "shape": (1, everything.length),
        "classes": classes,
        "files": len(paths),
        "hours": everything.info["hours"],
        "padded": len(short),
    }
    if labels is None or len(set(labels)) < 2 or len(entries) < 10:
        info["split"] = "none (unlabeled or too few files): no held-out evaluation"
        return DataBundle(spec, "audio", everything, info=info)
    from pairs.data.images import stratified_split

    tr, te = stratified_split(np.asarray(labels), 0.2)
    info["split"] = "stratified 80%/20% of the files (all windows of a file in one split), random_state=0"
    return DataBundle(spec, "audio", everything.file_subset(tr), test=everything.file_subset(te), info=info)


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
    description="your WAV/FLAC/OGG/MP3 folder (DIR/<class>/<file>), whole files in 1 s windows at 16 kHz; "
    "DIR@SR@SECONDS",
    argument="DIR",
)
