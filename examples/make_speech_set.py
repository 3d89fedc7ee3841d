"""Build a small multi-voice speech set with Debian's espeak-ng, for speaker (voice) probes.

Each voice is an espeak-ng language/variant pair (e.g. ``en-us+m1``); every utterance is a random sentence
from a fixed word list, spoken with its own pitch (``-p``) and speed (``-s``) drawn around the voice's own
base values, so a probe has to recognise the voice, not one fixed pitch or rate. Files go to
``DIR/<voice>/<n>.wav`` (16 kHz mono, 16-bit WAV), so ``audio:DIR`` loads them with labels = voice;
``DIR/manifest.json`` records every utterance's voice, pitch, speed and text. Same seed, same set.

Usage::

    apt-get install -y espeak-ng
    python examples/make_speech_set.py data/espeak --voices 8 --per-voice 40
    pairs train --data audio:data/espeak --method cpc --views cpc_window
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

# (voice, base pitch 0-99, base speed in words per minute): distinct timbres (variants) and accents
VOICES: tuple[tuple[str, int, int], ...] = (
    ("en-us+m1", 40, 165),
    ("en-us+f2", 65, 160),
    ("en-gb+m3", 35, 150),
    ("en-gb+f4", 70, 170),
    ("en-gb-scotland+m7", 45, 155),
    ("en-029+f1", 60, 175),
    ("en-us+klatt", 50, 160),
    ("en-gb-x-rp+m5", 30, 145),
)

WORDS = (
    "the a one two three red green blue small large quick slow bright dark river mountain city garden "
    "morning evening winter summer bird horse ship train letter window table music story paper stone "
    "walks runs sings reads opens closes finds builds carries watches under over near behind between "
    "after before always never often quietly loudly gently suddenly yesterday tomorrow seven eleven"
).split()


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed; on Debian/Ubuntu: apt-get install -y espeak-ng")
    return exe


def _sentence(rng: np.random.Generator) -> str:
    n = int(rng.integers(6, 11))
    return " ".join(rng.choice(WORDS, size=n).tolist())


def synthesize(text: str, voice: str, pitch: int, speed: int, sample_rate: int = 16000) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return float32 mono samples at ``sample_rate``.

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


def make_speech_set(
    out: str | Path, voices: int = 8, per_voice: int = 40, seed: int = 0, sample_rate: int = 16000
) -> Path:
    """Write ``per_voice`` utterances for each of the first ``voices`` voices to ``out/<voice>/<n>.wav``.

    Args:
        out: output folder (created; existing files of the same names are replaced).
        voices: how many voices of :data:`VOICES` (1 to 8).
        per_voice: utterances per voice.
        seed: seed of sentences, pitches and speeds.
        sample_rate: output rate in Hz.

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
    for voice, base_pitch, base_speed in VOICES[:voices]:
        folder = out / voice.replace("+", "_")
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(per_voice):
            text = _sentence(rng)
            pitch = int(np.clip(base_pitch + rng.integers(-12, 13), 0, 99))
            speed = int(base_speed + rng.integers(-25, 26))
            wave = synthesize(text, voice, pitch, speed, sample_rate)
            name = f"{n:03d}.wav"
            sf.write(str(folder / name), wave, sample_rate, subtype="PCM_16")
            manifest.append(
                {
                    "file": f"{folder.name}/{name}",
                    "voice": voice,
                    "pitch": pitch,
                    "speed": speed,
                    "text": text,
                }
            )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output folder")
    parser.add_argument("--voices", type=int, default=8)
    parser.add_argument("--per-voice", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = make_speech_set(args.out, args.voices, args.per_voice, args.seed)
    print(f"wrote {args.voices * args.per_voice} utterances to {path} (load with audio:{path})")


if __name__ == "__main__":
    main()
