"""Image and audio folders streamed: indexed at start, decoded per item, whole recordings windowed."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from pairs.data import load_data
from pairs.data.audio import AudioFolderSource
from pairs.data.images import ImageFolderSource
from pairs.domains.image import DecodedCrops, crops_at_decode
from pairs.errors import DataError
from pairs.pairing import ViewLoader
from pairs.views import image as iv

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


def _image_folder(root: Path, per_class: int = 4) -> None:
    """Solid-colour images of several sizes and aspect ratios, PNG and JPEG, one colour per class."""
    for name, rgb in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            size = [(40, 30), (64, 64), (90, 50), (33, 70)][i % 4]
            suffix = ".jpg" if i % 2 else ".png"
            Image.new("RGB", size, rgb).save(root / name / f"{i}{suffix}")


def test_image_folder_is_indexed_not_decoded_and_reads_items_at_the_training_size(tmp_path, monkeypatch):
    _image_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "red" / "notes.txt").write_text("not an image")
    monkeypatch.chdir(tmp_path)  # a relative spec is stored with its absolute folder
    bundle = load_data("images:imgs@16")
    assert bundle.spec == f"images:{tmp_path / 'imgs'}@16" and bundle.streamed
    source = bundle.train
    assert isinstance(source, ImageFolderSource) and source.sample_shape == (3, 16, 16)
    assert len(source) + len(bundle.test) == 12 and bundle.info["classes"] == ["blue", "green", "red"]
    for i in range(len(source)):
        path = source.item_id(i)
        assert os.path.isabs(path) and Path(path).parent.name == source.classes[int(source.labels[i])]
        x = source[i]
        assert x.shape == (3, 16, 16) and x.dtype == torch.float32
        colour = torch.tensor(COLOURS[Path(path).parent.name], dtype=torch.float32) / 255
        torch.testing.assert_close(x.mean(dim=(1, 2)), colour, atol=0.02, rtol=0)


def test_crops_cut_at_decode_from_the_full_resolution_file(tmp_path):
    # left half white, right half black: a crop's brightness says where it was cut from
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    arr = np.zeros((200, 200, 3), np.uint8)
    arr[:, :100] = 255
    for k in range(6):
        Image.fromarray(arr).save(tmp_path / ("a" if k % 2 else "b") / f"{k}.png")
    source = load_data(f"images:{tmp_path}@8").train
    view, cropping = crops_at_decode(iv.simclr_view(8), 2, source)
    assert isinstance(view, DecodedCrops) and len(cropping.crops) == 2 and cropping.crops[0][0] == (0.08, 1.0)
    g = torch.Generator().manual_seed(0)
    crops = torch.stack([cropping.train_item(0, g) for _ in range(40)])  # (40, 2, 3, 8, 8)
    assert crops.shape == (40, 2, 3, 8, 8)
    brightness = crops.mean(dim=(2, 3, 4)).flatten()
    assert brightness.min() < 0.05 and brightness.max() > 0.95  # crops from both halves
    again = cropping.train_item(0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, crops[0])
    torch.testing.assert_close(source[0].mean(), torch.tensor(0.5), atol=0.05, rtol=0)  # the centre
    # the loader gives the recipe's two views of every image, crops decoded in workers
    loader = ViewLoader(cropping, view, n_views=2, batch_size=4, seed=0, workers=1)
    batch = next(iter(loader))
    assert [v.shape for v in batch.views] == [(4, 3, 8, 8)] * 2
    assert not torch.equal(batch.views[0], batch.views[1])
    # views that do not start with a crop, and multi-crop, stay on the device
    byol = list(iv.byol_views(8))
    assert isinstance(crops_at_decode(byol, 2, source)[0], DecodedCrops)
    plain = iv.ColorJitter(0.4, 0.4)
    assert crops_at_decode(plain, 2, source) == (plain, source)
    multi = iv.multicrop_views(8, 4, n_local=2)
    assert crops_at_decode(multi, 2, source)[0] is multi


def test_training_item_opens_and_decodes_each_file_once(tmp_path, monkeypatch):
    import PIL.Image

    _image_folder(tmp_path / "imgs")
    source = load_data(f"images:{tmp_path / 'imgs'}@16").train
    cropping = crops_at_decode(iv.simclr_view(16), 2, source)[1]
    opened, decoded = [], []
    real_open, real_decoder = PIL.Image.open, PIL.Image._getdecoder
    monkeypatch.setattr(PIL.Image, "open", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    monkeypatch.setattr(PIL.Image, "_getdecoder", lambda *a, **k: decoded.append(1) or real_decoder(*a, **k))
    for i in range(len(source)):
        opened.clear()
        decoded.clear()
        crops = cropping.train_item(i, torch.Generator().manual_seed(i))
        assert crops.shape == (2, 3, 16, 16)
        assert crops.is_contiguous()
        assert len(opened) == 1  # the file is opened once
        assert len(decoded) == 1  # and decoded once
        colour = torch.tensor(COLOURS[Path(source.item_id(i)).parent.name], dtype=torch.float32) / 255
        torch.testing.assert_close(crops.mean(dim=(2, 3)), colour.expand(2, 3), atol=0.02, rtol=0)


def test_unreadable_image_names_the_file(tmp_path):
    _image_folder(tmp_path, per_class=8)
    (tmp_path / "red" / "broken.png").write_bytes(b"not a png")  # 25th file: found when it is read
    bundle = load_data(f"images:{tmp_path}")
    source = next(s for s in (bundle.train, bundle.test) if any("broken" in p for p in s.paths))
    with pytest.raises(DataError, match="broken.png"):
        source[source.paths.index(str(tmp_path / "red" / "broken.png"))]
    (tmp_path / "blue" / "0.png").write_bytes(b"not a png")  # among the first: found at indexing
    with pytest.raises(DataError, match="0.png"):
        load_data(f"images:{tmp_path}")
    with pytest.raises(DataError, match="is a file"):
        load_data(f"images:{tmp_path / 'red' / '0.png'}")


def _ramp_file(path: Path, seconds: float, sr: int) -> None:
    """A recording whose value tells the time: a ramp from 0 to 0.9 over its length."""
    t = np.arange(int(seconds * sr)) / sr
    sf.write(
        path, (0.9 * t / seconds).astype(np.float32), sr, format="FLAC" if path.suffix == ".flac" else "WAV"
    )


def test_long_recordings_train_on_windows_from_every_part_of_every_file(tmp_path):
    """Three 40-60 s recordings: training draws windows from every part of every file, new ones each epoch."""
    lengths = {"a.wav": 40.0, "b.flac": 60.0, "c.wav": 50.0}
    for name, seconds in lengths.items():
        _ramp_file(tmp_path / name, seconds, 22050)
    bundle = load_data(f"audio:{tmp_path}@8000@2")
    source = bundle.train
    assert isinstance(source, AudioFolderSource) and bundle.test is None  # unlabeled
    assert len(source) == 20 + 30 + 25 and source.sample_shape == (1, 16000)
    assert source.item_id(20) == f"{tmp_path / 'b.flac'}#0"

    def start_seconds(window: torch.Tensor, seconds: float) -> float:
        return float(window[0, 200:-200].mean()) / 0.9 * seconds - 1.0  # the ramp's value at the centre

    # evaluation windows are sequential: window w of b.flac starts at 2 w seconds
    for w in (0, 7, 29):
        assert abs(start_seconds(source[20 + w], 60.0) - 2 * w) < 0.05
    # training: one epoch of the loader reads every window item, each at a random place in its part
    starts: dict[str, list[float]] = {name: [] for name in lengths}
    for epoch in range(3):
        loader = ViewLoader(source, iv.GaussianNoise(0.0), n_views=1, batch_size=15, seed=0, workers=1)
        loader.set_epoch(epoch)
        seen = []
        for batch in loader:
            seen += batch.index.tolist()
            for i, window in zip(batch.index.tolist(), batch.views[0]):
                name = Path(source.paths[int(source.file_of[i])]).name
                starts[name].append(start_seconds(window, lengths[name]))
        assert sorted(seen) == list(range(len(source)))
    for name, seconds in lengths.items():
        hist = np.histogram(starts[name], bins=10, range=(0, seconds - 2))[0]
        assert (hist > 0).all(), (name, hist)  # every tenth of every file is drawn from
        # not the sequential windows: random starts, different from epoch to epoch
        frac = np.asarray(starts[name]) / 2 % 1
        assert ((frac > 0.1) & (frac < 0.9)).mean() > 0.5


def test_training_window_differs_between_epochs_but_not_between_runs(tmp_path):
    _ramp_file(tmp_path / "x.wav", 10.0, 8000)
    source = load_data(f"audio:{tmp_path}@8000@1").train

    def first_epoch_batches(epoch: int) -> torch.Tensor:
        loader = ViewLoader(source, iv.GaussianNoise(0.0), n_views=1, batch_size=5, seed=1, workers=0)
        loader.set_epoch(epoch)
        return torch.cat([b.views[0] for b in loader])

    torch.testing.assert_close(first_epoch_batches(0), first_epoch_batches(0))
    assert not torch.equal(first_epoch_batches(0), first_epoch_batches(1))


def test_mp3_is_read_where_libsndfile_reads_it(tmp_path):
    if "MP3" not in sf.available_formats():
        pytest.skip("the installed libsndfile does not read MP3")
    t = np.arange(16000 * 3) / 16000
    sf.write(
        tmp_path / "x.mp3", (0.3 * np.sin(2 * math.pi * 440 * t)).astype(np.float32), 16000, format="MP3"
    )
    source = load_data(f"audio:{tmp_path}").train
    assert len(source) == 3 and source.item_id(2).endswith("x.mp3#2")
    spectrum = torch.fft.rfft(source[1][0]).abs()
    assert abs(float(spectrum.argmax()) - 440.0) <= 2.0
