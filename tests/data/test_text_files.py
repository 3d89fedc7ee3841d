"""Text files streamed: .txt by byte offsets, .jsonl/.csv/.parquet with named columns, clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pairs.data import load_data
from pairs.data.text import TextFileSource
from pairs.errors import DataError
from pairs.pairing import ViewLoader
from pairs.views.text import SpanCrop

ROWS = [
    {"body": f'review "{i}", with a comma\nand a second line', "stars": "good" if i % 3 else "bad"}
    for i in range(30)
]


def test_txt_is_indexed_by_offsets_and_read_per_line(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("".join(f"sentence number {i} é\n" + ("\n" if i % 4 == 0 else "") for i in range(100)))
    source = TextFileSource(path)
    assert len(source) == 100 and source.labels is None
    assert source[57] == "sentence number 57 é"
    assert source.item_id(5) == f"{path}:8"  # blank lines 2 and 7 come before it
    assert path.read_text().splitlines()[7] == "sentence number 5 é"
    with pytest.raises(IndexError):
        source[100]
    # the loader reads lines in workers and hands lists of strings to the text view
    loader = ViewLoader(
        source, SpanCrop((1.0, 1.0)), n_views=1, batch_size=25, seed=0, workers=1, collate=list
    )
    texts = [t for batch in loader for t in batch.views[0]]
    assert sorted(texts) == sorted(source[i] for i in range(100))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_tables_with_named_text_and_label_columns(tmp_path, suffix):
    path = tmp_path / f"reviews{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif suffix == ".csv":
        pd.DataFrame(ROWS).to_csv(path, index=False)  # quoted fields with commas, quotes and newlines
    else:
        pd.DataFrame(ROWS).to_parquet(path, row_group_size=7)
    bundle = load_data(f"text:{path}@column=body,label=stars")
    assert bundle.spec == f"text:{path}@column=body,label=stars"
    assert len(bundle.train) == 24 and len(bundle.test) == 6 and bundle.info["classes"] == ["bad", "good"]
    for split in (bundle.train, bundle.test):
        for i in range(len(split)):
            row = int(split.item_id(i).rsplit(":", 1)[1]) - (1 if suffix == ".jsonl" else 0)
            assert split[i] == ROWS[row]["body"]
            assert split.classes[int(split.labels[i])] == ROWS[row]["stars"]
    unlabelled = load_data(f"text:{path}@column=body")
    assert unlabelled.train_labels is None and len(unlabelled.train) == 30


def test_text_spec_errors_name_the_expected_format(tmp_path):
    csv_path = tmp_path / "t.csv"
    pd.DataFrame(ROWS).to_csv(csv_path, index=False)
    with pytest.raises(DataError, match=r"no column 'text'.*column=text,label=label"):
        load_data(f"text:{csv_path}")  # the default column is 'text'
    with pytest.raises(DataError, match="column=NAME and label=NAME"):
        load_data(f"text:{csv_path}@colum=body")
    txt = tmp_path / "t.txt"
    txt.write_text("a line\n")
    with pytest.raises(DataError, match="apply to .jsonl, .csv and .parquet"):
        load_data(f"text:{txt}@column=body")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n")
    with pytest.raises(DataError, match="not JSON"):
        load_data(f"text:{bad}")
