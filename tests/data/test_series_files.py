"""Series files: large .npy streamed row by row, wide and long tables, UCR .ts files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import pairs.data.series as S
from pairs.data import load_data
from pairs.data.source import SubsetSource
from pairs.domains import recipe_for
from pairs.domains.series import ts2vec_standardizer
from pairs.errors import DataError
from pairs.experiment import train
from tests.helpers import assert_data_errors


def _streamed(monkeypatch) -> None:
    monkeypatch.setattr(S, "STREAM_BYTES", 0)  # every .npy counts as large


def test_large_npy_is_read_series_by_series(tmp_path, monkeypatch):
    _streamed(monkeypatch)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 2, 32)).astype(np.float64)  # any numeric dtype, read as float32
    y = np.repeat([0, 1, 2], 20)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    bundle = load_data(f"series:{tmp_path / 'x.npy'}@labels={tmp_path / 'y.npy'}")
    assert bundle.streamed and isinstance(bundle.train, SubsetSource)
    assert len(bundle.train) == 48 and len(bundle.test) == 12 and bundle.train.sample_shape == (2, 32)
    for split in (bundle.train, bundle.test):
        for i in range(len(split)):
            row = int(split.item_id(i).rsplit(":", 1)[1])
            torch.testing.assert_close(split[i], torch.from_numpy(x[row].astype(np.float32)))
            assert int(split.labels[i]) == y[row]
    np.save(tmp_path / "u.npy", x[:, 0])  # (N, T): one channel
    unlabeled = load_data(f"series:{tmp_path / 'u.npy'}")
    assert unlabeled.train.sample_shape == (1, 32) and unlabeled.test is None
    torch.testing.assert_close(unlabeled.train[5][0], torch.from_numpy(x[5, 0].astype(np.float32)))
    np.save(tmp_path / "o.npy", np.array([np.zeros(3), np.zeros(4)], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="no pickled objects"):
        load_data(f"series:{tmp_path / 'o.npy'}")


def test_training_on_a_streamed_npy_matches_the_recipe_of_the_same_data_in_memory(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 1, 24)).astype(np.float32)
    x[:20] += np.sin(np.linspace(0, 6, 24))[None, None]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.repeat([0, 1], 20))
    spec = f"series:{tmp_path / 'x.npy'}@labels={tmp_path / 'y.npy'}"
    memory = load_data(spec)
    _streamed(monkeypatch)
    streamed = load_data(spec)
    a, b = recipe_for(memory), recipe_for(streamed)
    assert (a.max_steps, a.batch_size, a.epochs) == (b.max_steps, b.batch_size, b.epochs)
    sa, sb = ts2vec_standardizer(memory), ts2vec_standardizer(streamed)
    torch.testing.assert_close(sa.mean, sb.mean)
    report = train(spec, epochs=1, out=str(tmp_path / "run"), progress=False, log=None, workers=1)
    assert report["steps"] == 4 and "svm_acc" in report and "svm_acc_untrained" in report


def test_wide_and_long_tables(tmp_path):
    rng = np.random.default_rng(2)
    values = rng.standard_normal((12, 5)).round(4)
    wide = pd.DataFrame(values, columns=[f"t{k}" for k in range(5)])
    wide["kind"] = ["a", "b"] * 6
    wide.to_csv(tmp_path / "wide.csv", index=False)
    bundle = load_data(f"series:{tmp_path / 'wide.csv'}@label=kind")
    x = torch.cat([bundle.train, bundle.test])
    assert x.shape == (12, 1, 5) and bundle.n_classes == 2
    got = x[:, 0].double()
    want = torch.from_numpy(values)
    order_got, order_want = got[:, 0].argsort(), want[:, 0].argsort()  # the split reorders the rows
    torch.testing.assert_close(got[order_got], want[order_want], atol=1e-6, rtol=0)
    # long: 3 series of 2 channels, unequal lengths (NaN-padded), rows shuffled
    rows = [
        {"sid": s, "t": t, "a": s * 10 + t, "b": -t, "cls": s % 2}
        for s, length in ((0, 4), (1, 3), (2, 4))
        for t in range(length)
    ]
    long = pd.DataFrame(rows).sample(frac=1.0, random_state=0)
    long.to_parquet(tmp_path / "long.parquet")
    bundle = load_data(f"series:{tmp_path / 'long.parquet'}@id=sid,time=t,value=a;b,label=cls")
    assert bundle.train.shape == (3, 2, 4) and bundle.train_labels.tolist() == [0, 1, 0]
    assert bundle.train[1, 0, :3].tolist() == [10.0, 11.0, 12.0] and torch.isnan(bundle.train[1, :, 3]).all()
    assert bundle.train[2, 1].tolist() == [0.0, -1.0, -2.0, -3.0]
    assert_data_errors(
        {
            f"series:{tmp_path / 'wide.csv'}": "non-numeric columns",
            f"series:{tmp_path / 'long.parquet'}@id=sid": "both id=COLUMN and time=COLUMN",
            f"series:{tmp_path / 'long.parquet'}@idd=sid": "options after '@'",
        }
    )


TS_HEADER = """# a comment
@problemName Toy
@timeStamps false
@univariate {univariate}
@equalLength true
@classLabel true up down
@data
"""


def test_ucr_ts_files_with_their_test_split(tmp_path):
    train = (
        TS_HEADER.format(univariate="false")
        + "1,2,3,4:4,3,2,1:up\n2,3,4,5:5,4,3,2:up\n4,3,2,1:1,2,3,4:down\n"
    )
    test = TS_HEADER.format(univariate="false") + "9,8,7,6:1,1,1,1:down\n"
    (tmp_path / "Toy_TRAIN.ts").write_text(train)
    (tmp_path / "Toy_TEST.ts").write_text(test)
    bundle = load_data(f"series:{tmp_path / 'Toy_TRAIN.ts'}")
    assert bundle.train.shape == (3, 2, 4) and bundle.test.shape == (1, 2, 4)
    assert bundle.info["classes"] == ["down", "up"]
    assert bundle.train_labels.tolist() == [1, 1, 0] and bundle.test_labels.tolist() == [0]
    assert bundle.train[0, 1].tolist() == [4.0, 3.0, 2.0, 1.0]
    (tmp_path / "bad.ts").write_text("@data\nnot,a:ts file\n")
    with pytest.raises(DataError, match=r"\.ts file"):
        load_data(f"series:{tmp_path / 'bad.ts'}")
    (tmp_path / "x.txt").write_text("1 2 3")
    with pytest.raises(DataError, match=r"expected \.npy/\.npz"):
        load_data(f"series:{tmp_path / 'x.txt'}")
