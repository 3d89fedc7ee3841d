"""Text data specs: gensim's polarity sentences and Lee corpus, and a user's text file."""

from __future__ import annotations

import pytest
import torch

from pairs.data import load_data


def test_polarity_is_a_fixed_stratified_split():
    b = load_data("text:polarity")
    assert b.domain == "text" and len(b.train) == 150 and len(b.test) == 50
    assert b.train_labels.bincount().tolist() == [75, 75] and b.test_labels.bincount().tolist() == [25, 25]
    assert all(isinstance(t, str) and t and not t.startswith("__label__") for t in b.train + b.test)
    assert load_data("text:polarity").train == b.train
    assert b.info["classes"] == ["neg", "pos"]


def test_lee_has_documents_and_a_symmetric_human_matrix():
    b = load_data("text:lee")
    assert len(b.train) == 300 and len(b.test) == 50 and b.train_labels is None
    sim = b.info["human_similarity"]
    assert sim.shape == (50, 50) and torch.equal(sim, sim.T) and torch.all(sim.diagonal() == 1)


def test_text_file_labelled_and_unlabelled(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("first line\n\n  second line  \nthird\n", encoding="utf-8")
    b = load_data(f"text:{plain}")
    assert list(b.train) == ["first line", "  second line", "third"]
    assert b.test is None and b.train_labels is None
    assert [b.train.item_id(i) for i in range(3)] == [f"{plain}:1", f"{plain}:3", f"{plain}:4"]
    labelled = tmp_path / "lab.txt"
    labelled.write_text("".join(f"__label__{'ab'[i % 2]} sentence number {i}\n" for i in range(20)))
    b = load_data(f"text:{labelled}")
    assert len(b.train) == 16 and len(b.test) == 4 and b.n_classes == 2
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café crème\n".encode("latin-1"))
    assert list(load_data(f"text:{latin}").train) == ["café crème"]


@pytest.mark.parametrize(
    "content, expected",
    [(None, "not found"), (b"\n \n", "no text"), (b"\x00\x01binary", "binary")],
)
def test_bad_files_are_clear_errors(tmp_path, content, expected):
    path = tmp_path / "f.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=expected):
        load_data(f"text:{path}")
    with pytest.raises(ValueError, match="needs an argument"):
        load_data("text")


def test_sentences_and_passages():
    from pairs.data.text import lee_sentences, passages, split_sentences

    assert split_sentences("One two three four five. Short one! Six seven eight nine ten?") == [
        "One two three four five.",
        "Six seven eight nine ten?",
    ]
    assert split_sentences("a b c. d e f", min_words=1) == ["a b c.", "d e f"]
    docs = [["a.", "b.", "c.", "d."], ["e."]]
    assert passages(docs, 3) == ["a. b. c.", "d.", "e."]  # never across documents
    assert passages(docs, 1) == ["a.", "b.", "c.", "d.", "e."]
    with pytest.raises(ValueError, match="size"):
        passages(docs, 0)
    lee = lee_sentences()
    assert len(lee) == 300 and 2000 < sum(map(len, lee)) < 3500
    assert all(len(s.split()) >= 5 for doc in lee for s in doc)


@pytest.mark.slow
def test_wiki_bundle_has_passages_lee_and_polarity_probe():
    b = load_data("text:wiki")
    assert b.domain == "text" and b.train_labels is None and len(b.test) == 50
    assert len(b.train) > 6000 and all(isinstance(t, str) and t.strip() for t in b.train)
    assert "|" not in " ".join(b.train[:2000]) and "[[" not in " ".join(b.train[:2000])
    assert len(b.info["probe_texts"]) == 200 and b.info["probe_labels"].bincount().tolist() == [100, 100]
    assert set(b.info["probe_texts"]) <= set(b.train)  # the polarity sentences, without labels
    assert load_data("text:wiki").train == b.train  # the cache gives the same text
