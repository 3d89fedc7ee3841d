"""Build a multi-voice speech set with Debian's espeak-ng, for speaker (voice) probes that are not trivial.

Voices are close to each other: one base voice (``en-us``) with espeak-ng's timbre variants ``+m1..+m7``
and ``+f1..+f5`` (small shifts of formant frequencies, pitch range, roughness), so a voice is a timbre,
not an accent. Every utterance gets its own

* sentence: a random word sequence from a vocabulary of a few hundred words (no sentence repeats, so the
  train and held-out clips of a voice never share a text);
* pitch (``-p``) and speed (``-s``), drawn from the **same** ranges for every voice: pitch and rate alone
  do not give the voice away;
* recording channel: a random band-pass (telephone-like to full band), a random tilt/peaking equaliser,
  with probability 0.6 a synthetic room (exponentially decaying noise impulse response, RT60 0.1-0.6 s),
  additive coloured noise at a random SNR (5-30 dB) and a random gain (-26 to -1 dBFS peak).

Channel and noise are independent of the voice, so statistics of the spectrum (e.g. mean MFCCs) mix voice
and channel, and a probe has to find what is stable across utterances of a voice.

Files go to ``DIR/<voice>/<n>.wav`` (16 kHz mono, 16-bit WAV), so ``audio:DIR`` loads them with
labels = voice; ``DIR/manifest.json`` records every utterance's voice, text, pitch, speed and channel.
Same seed, same set.

Usage::

    apt-get install -y espeak-ng
    python examples/make_speech_set.py data/espeak --voices 12 --per-voice 40
    pairs train --data audio:data/espeak@16000@2 --method cpc --views cpc_window
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

BASE_VOICE = "en-us"
VARIANTS: tuple[str, ...] = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
VOICES: tuple[str, ...] = tuple(f"{BASE_VOICE}+{v}" for v in VARIANTS)
PITCH_RANGE = (20, 80)  # espeak-ng -p (0-99), the same for every voice
SPEED_RANGE = (130, 200)  # espeak-ng -s (words per minute), the same for every voice

WORDS = (
    "the a an one two three four five six seven eight nine ten eleven twelve twenty hundred first last "
    "red green blue yellow white black brown silver golden purple small large little big tall short long "
    "quick slow bright dark warm cold soft hard heavy light young old new early late happy quiet loud "
    "river mountain city garden forest ocean island valley desert village market station harbour bridge "
    "morning evening night winter summer spring autumn weekend holiday birthday minute season "
    "bird horse ship train letter window table music story paper stone apple bread coffee water orange "
    "teacher doctor farmer sailor painter driver student neighbour brother sister mother father friend "
    "kitchen library office window mirror pencil bottle basket candle blanket ladder camera engine "
    "walks runs sings reads opens closes finds builds carries watches paints writes follows remembers "
    "visits answers counts lifts pushes pulls throws catches waits listens travels explains borrows "
    "under over near behind between after before during without across around along inside outside "
    "always never often sometimes quietly loudly gently suddenly slowly carefully happily yesterday "
    "tomorrow today tonight again together perhaps really almost already because although while and "
    "but or so then when where which who every many several nobody somebody everything nothing "
    "cheese pepper lemon carrot potato tomato butter honey sugar cherry banana onion melon"
).split()


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed; on Debian/Ubuntu: apt-get install -y espeak-ng")
    return exe


def random_sentence(rng: np.random.Generator, low: int = 6, high: int = 12) -> str:
    """A random word sequence of ``low`` to ``high`` words from :data:`WORDS`."""
    n = int(rng.integers(low, high + 1))
    return " ".join(rng.choice(WORDS, size=n).tolist())


def synthesize(text: str, voice: str, pitch: int, speed: int, sample_rate: int = 16000) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return float32 mono samples at ``sample_rate`` (peak 0.9).

    Raises:
        RuntimeError: if espeak-ng is missing or fails (the message shows its error output).
    """
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "u.wav"
        proc = subprocess.run(
            [_espeak(), "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(path), text],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not path.is_file():
            raise RuntimeError(f"espeak-ng failed for voice {voice!r}: {proc.stderr.strip()}")
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    wave = wave.mean(axis=1)
    if sr != sample_rate:
        import torch
        import torchaudio.functional as AF

        wave = AF.resample(torch.from_numpy(wave), sr, sample_rate).numpy()
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    return (wave / peak * 0.9 if peak > 0 else wave).astype(np.float32)


def trim_silence(
    wave: np.ndarray, sample_rate: int, threshold: float = 0.01, margin: float = 0.05
) -> np.ndarray:
    """Cut leading and trailing samples quieter than ``threshold`` (relative to the peak), keeping a
    ``margin`` (seconds) of silence on each side."""
    loud = np.flatnonzero(np.abs(wave) > threshold * max(float(np.abs(wave).max()), 1e-9))
    if loud.size == 0:
        return wave
    pad = int(margin * sample_rate)
    return wave[max(0, loud[0] - pad) : loud[-1] + pad + 1]


def sample_channel(rng: np.random.Generator) -> dict[str, Any]:
    """Random recording-channel parameters (independent of the voice), see the module docstring."""
    return {
        "highpass_hz": float(rng.uniform(50, 400)),
        "lowpass_hz": float(rng.choice([3400.0, float(rng.uniform(3400, 7600))])),
        "tilt_db_per_octave": float(rng.uniform(-3, 3)),
        "peak_hz": float(np.exp(rng.uniform(np.log(300), np.log(4000)))),
        "peak_db": float(rng.uniform(-9, 9)),
        "rt60_s": float(rng.uniform(0.1, 0.6)) if rng.random() < 0.6 else 0.0,
        "reverb_wet": float(rng.uniform(0.2, 0.7)),
        "noise_colour": float(rng.uniform(-1.0, 1.0)),  # spectral slope exponent: -1 brown-ish, +1 blue-ish
        "snr_db": float(rng.uniform(5, 30)),
        "peak_dbfs": float(rng.uniform(-26, -1)),
        "seed": int(rng.integers(2**31)),
    }


def _spectral_gain(n: int, sample_rate: int, channel: dict[str, Any]) -> np.ndarray:
    """Magnitude response of the channel's band-pass, tilt and peak on an rfft grid of ``n`` samples."""
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    f_safe = np.maximum(f, 1.0)
    hp = 1.0 / np.sqrt(1.0 + (channel["highpass_hz"] / f_safe) ** 4)  # 2nd-order Butterworth magnitudes
    lp = 1.0 / np.sqrt(1.0 + (f / channel["lowpass_hz"]) ** 8)  # 4th order
    tilt_db = channel["tilt_db_per_octave"] * np.log2(f_safe / 1000.0)
    octaves = np.log2(f_safe / channel["peak_hz"])
    peak_db = channel["peak_db"] * np.exp(-0.5 * (octaves / 0.35) ** 2)
    return hp * lp * 10.0 ** ((tilt_db + peak_db) / 20.0)


def degrade(wave: np.ndarray, sample_rate: int, channel: dict[str, Any]) -> np.ndarray:
    """Apply a channel from :func:`sample_channel`: equaliser, room, noise at the SNR, gain.

    Returns:
        float32 samples, same length as ``wave``, peak at ``channel["peak_dbfs"]``.
    """
    rng = np.random.default_rng(channel["seed"])
    n = len(wave)
    x = wave.astype(np.float64)
    if channel["rt60_s"] > 0:
        length = int(channel["rt60_s"] * sample_rate)
        t = np.arange(length) / sample_rate
        ir = rng.standard_normal(length) * 10.0 ** (-3.0 * t / channel["rt60_s"])  # -60 dB at rt60
        ir /= np.sqrt(np.sum(ir**2))
        wet = np.fft.irfft(np.fft.rfft(x, n + length) * np.fft.rfft(ir, n + length), n + length)[:n]
        wet *= np.sqrt(np.mean(x**2) / max(np.mean(wet**2), 1e-12))
        x = (1 - channel["reverb_wet"]) * x + channel["reverb_wet"] * wet
    x = np.fft.irfft(np.fft.rfft(x) * _spectral_gain(n, sample_rate, channel), n)
    f = np.maximum(np.fft.rfftfreq(n, 1.0 / sample_rate), 20.0)
    noise = np.fft.irfft(
        np.fft.rfft(rng.standard_normal(n)) * (f / 1000.0) ** (channel["noise_colour"] / 2), n
    )
    signal_power = np.mean(x**2)
    noise *= np.sqrt(signal_power / max(np.mean(noise**2), 1e-12) / 10.0 ** (channel["snr_db"] / 10.0))
    x = x + noise
    peak = max(float(np.abs(x).max()), 1e-9)
    return (x / peak * 10.0 ** (channel["peak_dbfs"] / 20.0)).astype(np.float32)


def make_speech_set(
    out: str | Path,
    voices: int = 12,
    per_voice: int = 40,
    seed: int = 0,
    sample_rate: int = 16000,
    clean: bool = False,
) -> Path:
    """Write ``per_voice`` utterances for each of the first ``voices`` voices to ``out/<voice>/<n>.wav``.

    Args:
        out: output folder (created; existing files of the same names are replaced).
        voices: how many voices of :data:`VOICES` (1 to 12).
        per_voice: utterances per voice.
        seed: seed of sentences, pitches, speeds and channels.
        sample_rate: output rate in Hz.
        clean: skip the channel (no equaliser, room, noise or gain): studio-clean synthetic speech.

    Returns:
        The output folder.

    Raises:
        ValueError: on a bad count.
        RuntimeError: if espeak-ng is missing or fails.
    """
    if not 1 <= voices <= len(VOICES):
        raise ValueError(f"voices must be between 1 and {len(VOICES)}, got {voices}")
    if per_voice < 1:
        raise ValueError(f"per_voice must be >= 1, got {per_voice}")
    import soundfile as sf

    out = Path(out)
    rng = np.random.default_rng(seed)
    manifest = []
    used: set[str] = set()
    for voice in VOICES[:voices]:
        folder = out / voice.replace("+", "_")
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_voice):
            text = random_sentence(rng)
            while text in used:  # every utterance has its own text
                text = random_sentence(rng)
            used.add(text)
            pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
            speed = int(rng.integers(SPEED_RANGE[0], SPEED_RANGE[1] + 1))
            channel = sample_channel(rng)
            wave = trim_silence(synthesize(text, voice, pitch, speed, sample_rate), sample_rate)
            if not clean:
                wave = degrade(wave, sample_rate, channel)
            name = f"{n:03d}.wav"
            sf.write(str(folder / name), wave, sample_rate, subtype="PCM_16")
            entry = {"file": f"{folder.name}/{name}", "voice": voice, "pitch": pitch, "speed": speed}
            entry.update({"text": text, "channel": None if clean else channel})
            manifest.append(entry)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output folder")
    parser.add_argument("--voices", type=int, default=len(VOICES))
    parser.add_argument("--per-voice", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clean", action="store_true", help="no channel, noise or gain")
    args = parser.parse_args()
    path = make_speech_set(args.out, args.voices, args.per_voice, args.seed, clean=args.clean)
    print(f"wrote {args.voices * args.per_voice} utterances to {path} (load with audio:{path})")


if __name__ == "__main__":
    main()
