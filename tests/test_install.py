"""The installation: every declared dependency loads, the torch family matches its pins, an audio path runs,
and a dependency that is installed but broken is one clear CLI line. These never skip: a broken install must
fail the default run, not hide in skips."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from pairs.errors import DependencyError
from pairs.installation import (
    TORCH_FAMILY,
    check_dependency,
    check_installation,
    declared_dependencies,
    dependency_error,
)

ROOT = Path(__file__).resolve().parents[1]


def test_every_declared_dependency_imports_and_the_torch_family_matches_its_pins():
    versions = check_installation(("test",))
    declared = declared_dependencies(("test",))
    assert set(versions) == set(declared)
    for name in TORCH_FAMILY:
        assert declared[name].startswith("=="), f"{name} must be pinned exactly, got {declared[name]!r}"
        assert versions[name].split("+")[0] == declared[name][2:]
    assert torch.__version__.split("+")[0] == declared["torch"][2:]


def test_the_pins_in_pyproject_are_the_installed_ones():
    """The editable install's metadata and pyproject.toml agree (a stale install would hide a pin change)."""
    tomllib = pytest.importorskip("tomllib", reason="Python >= 3.11 reads pyproject.toml")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {d.split("==")[0]: d.split("==")[1] for d in project["dependencies"] if "==" in d}
    for name in TORCH_FAMILY:
        assert metadata.version(name).split("+")[0] == pins[name]


def test_the_lock_file_pins_the_same_torch_family():
    lock = (ROOT / ".ci" / "constraints.txt").read_text().splitlines()
    pinned = dict(line.split("==", 1) for line in lock if "==" in line and not line.startswith("#"))
    declared = declared_dependencies()
    for name in TORCH_FAMILY:
        assert pinned[name] == declared[name][2:]
    for name in declared:  # every core dependency is locked, so CI cannot float
        assert any(key.lower().replace("_", "-") == name.lower() for key in pinned), name


def test_torchaudio_native_library_loads_and_its_kernels_run():
    import torchaudio
    from torchaudio._extension import _IS_TORCHAUDIO_EXT_AVAILABLE

    assert _IS_TORCHAUDIO_EXT_AVAILABLE
    sr, f0 = 16000, 440.0
    t = torch.arange(sr) / sr
    tone = torch.sin(2 * torch.pi * f0 * t)
    down = torchaudio.functional.resample(tone, sr, 8000)
    spectrum = torch.fft.rfft(down).abs()
    assert int(spectrum.argmax()) == int(f0)  # 1 s at 8 kHz: bin k is k Hz, the tone stays at 440 Hz


def test_an_audio_folder_trains_to_the_mfcc_baseline(tmp_path):
    """The audio path end to end on generated WAVs: load the folder, MFCC baseline, one epoch."""
    from pairs.experiment import train

    rng = np.random.default_rng(0)
    sr = 8000
    for label, f0 in (("low", 150.0), ("high", 900.0)):
        folder = tmp_path / "audio" / label
        folder.mkdir(parents=True)
        for i in range(12):
            t = np.arange(sr) / sr
            wave = 0.5 * np.sin(2 * np.pi * f0 * (1 + 0.05 * rng.standard_normal()) * t)
            sf.write(folder / f"{i}.wav", (wave + 0.01 * rng.standard_normal(sr)).astype(np.float32), sr)
    report = train(
        f"audio:{tmp_path / 'audio'}",
        epochs=1,
        batch_size=8,
        out=str(tmp_path / "run"),
        progress=False,
        evaluate_untrained=False,
        log=None,
    )
    assert report["mfcc_probe_acc"] == 1.0  # two tones an octave and more apart: MFCCs separate them
    assert Path(report["checkpoint"]).is_file()


def _fake_broken_torchaudio(root: Path) -> Path:
    """A ``torchaudio`` package whose import fails the way a mismatched native library does."""
    package = root / "torchaudio"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "raise OSError('Could not load this library: /x/torchaudio/lib/libtorchaudio.so: undefined symbol: "
        "torch_exception_get_what_without_backtrace')\n"
    )
    return root


def test_a_broken_dependency_is_a_clear_error_in_python(tmp_path):
    fake = _fake_broken_torchaudio(tmp_path / "fake")
    code = (
        "import sys\n"
        "from pairs.installation import check_dependency\n"
        "from pairs.errors import DependencyError\n"
        "try:\n"
        "    check_dependency('torchaudio')\n"
        "except DependencyError as err:\n"
        "    print(err)\n"
        "    sys.exit(3)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "torchaudio 2.11.0 is installed but does not load" in proc.stdout
    assert "pip install --force-reinstall torch==2.11.0 torchvision==0.26.0 torchaudio==2.11.0" in proc.stdout


def test_a_broken_dependency_is_one_cli_line_naming_it_and_the_fix(tmp_path):
    fake = _fake_broken_torchaudio(tmp_path / "fake")
    folder = tmp_path / "audio" / "a"
    folder.mkdir(parents=True)
    for i in range(4):
        sf.write(folder / f"{i}.wav", np.zeros(8000, dtype=np.float32), 8000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)])}
    proc = subprocess.run(
        [sys.executable, "-m", "pairs", "train", "--data", f"audio:{tmp_path / 'audio'}", "--epochs", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pairs: error: torchaudio 2.11.0 is installed but does not load (OSError")
    assert "internal error" not in lines[0]
    assert "undefined symbol" in lines[0]
    assert "pip install --force-reinstall torch==2.11.0" in lines[0]


def test_errors_of_already_imported_code_are_not_blamed_on_the_install():
    try:
        torch.zeros(2, 3) @ torch.zeros(2, 3)
    except RuntimeError as err:
        assert dependency_error(err) is None
    try:
        import pairs_no_such_module  # noqa: F401
    except ModuleNotFoundError as err:
        assert dependency_error(err) is None


def test_a_missing_dependency_names_the_install_command(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    with pytest.raises(
        DependencyError, match=r"librosa is not installed.*pip install --force-reinstall librosa"
    ):
        check_dependency("librosa")


def test_help_and_the_data_list_do_not_import_torch():
    """Start-up: `pairs --help` and `pairs data` import no heavy library (so they answer at once)."""
    code = (
        "import sys, contextlib, io\n"
        "from pairs.cli import main\n"
        "for argv in (['--help'], ['train', '--help'], ['data']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "    heavy = sorted(m for m in ('torch', 'torchvision', 'torchaudio', 'torch_geometric', 'sklearn',\n"
        "                               'librosa', 'sktime', 'matplotlib', 'scipy') if m in sys.modules)\n"
        "    print(argv[0], heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, check=True
    )
    assert proc.stdout.splitlines() == ["--help []", "train []", "data []"], proc.stdout + proc.stderr
