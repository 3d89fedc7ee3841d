"""Tests of the time-series loaders: sktime's bundled UCR/UEA sets and a user's .npy/.npz files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pairs.data import load_data  # noqa: E402
from pairs.data import series as S  # noqa: E402

BUNDLED = {"ACSF1", "ArrowHead", "BasicMotions", "GunPoint", "ItalyPowerDemand", "JapaneseVowels", "OSULeaf"}


def _sktime_split(name: str, split: str):
    """sktime's own loader, nested frame and string labels (the reference)."""
    from pathlib import Path

    import sktime.datasets
    from sktime.datasets import load_from_tsfile

    path = Path(sktime.datasets.__file__).parent / "data" / name / f"{name}_{split.upper()}.ts"
    return load_from_tsfile(str(path), return_data_type="nested_univ")


class TestUCR:
    def test_available(self):
        names = S.available_ucr()
        assert BUNDLED <= set(names)
        assert names == sorted(names, key=str.lower)

    def test_gunpoint(self):
        x_tr, y_tr = S.load_ucr("GunPoint", "train")
        x_te, y_te = S.load_ucr("GunPoint", "test")
        assert x_tr.shape == (50, 1, 150) and x_te.shape == (150, 1, 150)
        assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
        assert set(y_tr.tolist()) == set(y_te.tolist()) == {0, 1}
        assert not np.isnan(x_tr).any()
        from sktime.datasets import load_gunpoint

        ref_x, ref_y = load_gunpoint(split="test", return_X_y=True, return_type="numpy3D")
        np.testing.assert_allclose(x_te, ref_x.astype(np.float32))
        assert S.ucr_classes("GunPoint") == ["1", "2"]
        assert [S.ucr_classes("GunPoint")[i] for i in y_te] == list(ref_y)

    def test_japanese_vowels_variable_length(self):
        x_tr, y_tr = S.load_ucr("JapaneseVowels", "train")
        x_te, y_te = S.load_ucr("JapaneseVowels", "test")
        assert x_tr.shape[:2] == (270, 12) and x_te.shape[:2] == (370, 12)
        assert x_tr.shape[2] == x_te.shape[2]  # one T for both splits
        ref, ref_y = _sktime_split("JapaneseVowels", "test")
        lengths = [len(ref.iat[i, 0]) for i in range(len(ref))]
        assert len(set(lengths)) > 1 and max(lengths) <= x_te.shape[2]
        for i in range(0, 370, 37):
            n = lengths[i]
            np.testing.assert_allclose(
                x_te[i, :, :n], np.stack([ref.iat[i, c].to_numpy() for c in range(12)]), rtol=1e-6
            )
            assert np.isnan(x_te[i, :, n:]).all()  # NaN padding at the end
        classes = S.ucr_classes("JapaneseVowels")
        assert [classes[i] for i in y_te] == list(ref_y)
        assert set(y_tr.tolist()) == set(y_te.tolist()) == set(range(9))

    def test_string_labels_consistent_across_splits(self):
        _, y_tr = S.load_ucr("BasicMotions", "train")
        _, y_te = S.load_ucr("BasicMotions", "test")
        classes = S.ucr_classes("BasicMotions")
        assert classes == sorted(classes)
        for split, y in (("train", y_tr), ("test", y_te)):
            assert [classes[i] for i in y] == list(_sktime_split("BasicMotions", split)[1])

    def test_case_insensitive_and_copies(self):
        a, _ = S.load_ucr("gunpoint")
        a[:] = 0
        b, _ = S.load_ucr("GunPoint")
        assert b.any()  # the cache is not modified through a returned array

    def test_regression_set(self):
        assert S.ucr_task("Tecator") == "regression" and S.ucr_task("GunPoint") == "classification"
        x, y = S.load_ucr("Tecator", "train")
        assert y.dtype == np.float32 and len(y) == len(x)

    def test_unknown_name_lists_installed(self):
        with pytest.raises(ValueError, match="GunPoint") as err:
            S.load_ucr("NoSuchSet")
        assert "JapaneseVowels" in str(err.value) and "NoSuchSet" in str(err.value)
        with pytest.raises(ValueError, match="'train' or 'test'"):
            S.load_ucr("GunPoint", "validation")

    def test_spec(self):
        b = load_data("ucr:GunPoint")
        assert b.domain == "series" and b.train.shape == (50, 1, 150) and b.test.shape == (150, 1, 150)
        assert b.train_labels.dtype == torch.int64 and b.n_classes == 2
        v = load_data("ucr:JapaneseVowels")
        assert v.info["variable_length"] and torch.isnan(v.train).any()
        with pytest.raises(ValueError, match="GunPoint"):
            load_data("ucr:Nope")


class TestSeriesFile:
    def test_npy_three_and_two_dims(self, tmp_path):
        x = np.random.default_rng(0).standard_normal((6, 2, 11))
        np.save(tmp_path / "a.npy", x)
        got, y = S.load_series_file(tmp_path / "a.npy")
        assert got.dtype == np.float32 and got.shape == (6, 2, 11) and y is None
        np.testing.assert_allclose(got, x.astype(np.float32))
        np.save(tmp_path / "b.npy", x[:, 0].astype(np.int32))
        got, _ = S.load_series_file(str(tmp_path / "b.npy"))
        assert got.shape == (6, 1, 11)

    def test_npz_and_label_files(self, tmp_path):
        x = np.random.default_rng(0).standard_normal((5, 1, 8)).astype(np.float32)
        np.savez(tmp_path / "d.npz", X=x, y=np.array([3, 1, 3, 2, 1]))
        got, y = S.load_series_file(tmp_path / "d.npz")
        assert np.array_equal(got, x) and y.dtype == np.int64 and y.tolist() == [3, 1, 3, 2, 1]
        np.save(tmp_path / "x.npy", x)
        np.save(tmp_path / "labels.npy", np.array(["cat", "dog", "cat", "ant", "dog"]))
        _, y = S.load_series_file(tmp_path / "x.npy", tmp_path / "labels.npy")
        assert y.tolist() == [1, 2, 1, 0, 2]
        (tmp_path / "labels.txt").write_text("1\n0\n1\n1\n0\n")
        _, y = S.load_series_file(tmp_path / "x.npy", tmp_path / "labels.txt")
        assert y.tolist() == [1, 0, 1, 1, 0]

    def test_errors(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="not found"):
            S.load_series_file(tmp_path / "missing.npy")
        np.save(tmp_path / "r4.npy", np.zeros((2, 3, 4, 5)))
        with pytest.raises(ValueError, match=r"expected \(N, C, T\)"):
            S.load_series_file(tmp_path / "r4.npy")
        np.save(tmp_path / "r1.npy", np.zeros(5))
        with pytest.raises(ValueError, match=r"expected \(N, C, T\)"):
            S.load_series_file(tmp_path / "r1.npy")
        np.save(tmp_path / "s.npy", np.array([["a", "b"], ["c", "d"]]))
        with pytest.raises(TypeError, match="non-numeric"):
            S.load_series_file(tmp_path / "s.npy")
        np.save(tmp_path / "o.npy", np.array([np.zeros(3), np.zeros(4)], dtype=object), allow_pickle=True)
        with pytest.raises(TypeError, match="pickled"):
            S.load_series_file(tmp_path / "o.npy")
        np.savez(tmp_path / "nox.npz", data=np.zeros((2, 3)))
        with pytest.raises(ValueError, match="no array named 'X'"):
            S.load_series_file(tmp_path / "nox.npz")
        np.save(tmp_path / "ok.npy", np.zeros((3, 1, 4)))
        np.save(tmp_path / "short.npy", np.array([0, 1]))
        with pytest.raises(ValueError, match="2 entries but there are 3 series"):
            S.load_series_file(tmp_path / "ok.npy", tmp_path / "short.npy")
        (tmp_path / "x.csv").write_text("1,2")
        with pytest.raises(ValueError, match=".npy or .npz"):
            S.load_series_file(tmp_path / "x.csv")
        np.save(tmp_path / "frac.npy", np.array([0.5, 1, 2]))
        with pytest.raises(ValueError, match="whole numbers"):
            S.load_series_file(tmp_path / "ok.npy", tmp_path / "frac.npy")

    def test_spec(self, tmp_path):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((40, 2, 16)).astype(np.float32)
        y = np.repeat([0, 1], 20)
        np.save(tmp_path / "x.npy", x)
        np.save(tmp_path / "y.npy", y)
        b = load_data(f"series:{tmp_path / 'x.npy'}@{tmp_path / 'y.npy'}")
        assert b.domain == "series" and b.train.shape == (32, 2, 16) and b.test.shape == (8, 2, 16)
        assert b.test_labels.tolist().count(0) == 4
        unl = load_data(f"series:{tmp_path / 'x.npy'}")
        assert unl.train.shape == (40, 2, 16) and unl.train_labels is None and unl.test is None
        with pytest.raises(ValueError, match="not found"):
            load_data(f"series:{tmp_path / 'missing.npy'}")
