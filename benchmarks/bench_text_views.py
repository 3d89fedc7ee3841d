"""Synonym swap throughput: pairs' ``SynonymSwap`` vs nlpaug's ``SynonymAug(aug_src='wordnet')`` vs EDA.

All three run on the same 1,000 real sentences (the first sentences of the Lee background corpus shipped in
gensim) at the same swap rate (20% of the words, at least 1, at most 10 per sentence), in this one process,
on nltk's WordNet 3.0 located offline by :func:`pairs.views.text_lexicon.wordnet_dir`.

* **nlpaug** (``pip install nlpaug``): ``SynonymAug(aug_src="wordnet", aug_p=0.2, aug_min=1, aug_max=10)``.
  nlpaug tags every sentence with ``nltk.pos_tag``, whose model is a download that is not available
  here; the benchmark replaces nlpaug's tagger with a cheap stand-in that calls every token a noun
  (``NN``). That stand-in costs almost nothing, so nlpaug is timed *faster* than it really is and the
  ratio is conservative.
* **EDA's reference approach** (Wei & Zou 2019, ``eda.py``): split on spaces, shuffle the non-stop
  words, and query ``wordnet.synsets(word)`` per word until enough are replaced (re-written here).
* **pairs**: ``SynonymSwap(p=0.2, min_swaps=1, max_swaps=10)`` on the list of sentences (a batch).

Timing: a fresh augmenter of each kind first augments 200 other real sentences (the polarity set; loads
WordNet and pairs' disk-cached tables: synonyms per lemma, replacements per common word form), then
augments the 1,000 sentences: the first pass is "cold" for every per-text cache (pairs splits each new
text into words, looks each up in the word-form table, and analyses the few words the table lacks);
"warm" is the median of ``--repeats`` further passes over the same sentences, the regime of training,
which sees the same texts every epoch (pairs then reuses each text's analysis and only draws and splices).
The 20x target is checked on the warm pass; the cold ratio is printed too.

Usage:
    python benchmarks/bench_text_views.py [--n 1000] [--p 0.2]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from benchmarks._common import report
from pairs.data.text import lee_sentences as lee_document_sentences
from pairs.data.text import load_polarity
from pairs.views import text_lexicon as lex
from pairs.views.text import SynonymSwap


def lee_sentences(n: int) -> list[str]:
    """The first ``n`` sentences (of 5 words or more) of the Lee background corpus."""
    return [s for doc in lee_document_sentences(min_words=5) for s in doc][:n]


def eda_synonym_replacement(wordnet, stop_words: frozenset[str], p: float, seed: int):
    """EDA's ``synonym_replacement`` (one ``wordnet.synsets`` query per word), re-written as a function."""
    rng = random.Random(seed)

    def get_synonyms(word: str) -> list[str]:
        synonyms = []
        for syn in wordnet.synsets(word):
            for lemma in syn.lemmas():
                s = lemma.name().replace("_", " ").replace("-", " ").lower()
                s = "".join(c for c in s if c in " qwertyuiopasdfghjklzxcvbnm")
                synonyms.append(s)
        return [s for s in dict.fromkeys(synonyms) if s != word]

    def augment(sentence: str) -> str:
        words = sentence.split(" ")
        n = min(10, max(1, round(p * len(words))))
        new_words = words.copy()
        candidates = list(dict.fromkeys(w for w in words if w.lower() not in stop_words))
        rng.shuffle(candidates)
        replaced = 0
        for word in candidates:
            synonyms = get_synonyms(word)
            if synonyms:
                choice = rng.choice(synonyms)
                new_words = [choice if w == word else w for w in new_words]
                replaced += 1
            if replaced >= n:
                break
        return " ".join(new_words)

    return lambda sentences: [augment(s) for s in sentences]


def make_nlpaug(p: float):
    import nlpaug.augmenter.word as naw
    from nlpaug.model.word_dict.wordnet import WordNet

    # Stand-in for nltk.pos_tag (a downloaded model that is missing here): every token is a noun.
    WordNet.pos_tag = classmethod(lambda cls, tokens: [(t, "NN") for t in tokens])
    aug = naw.SynonymAug(aug_src="wordnet", aug_p=p, aug_min=1, aug_max=10)
    return lambda sentences: aug.augment(sentences)


def timed(fn, data) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(data)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--p", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=5, help="warm passes (the median is reported)")
    args = parser.parse_args()

    lex.wordnet_dir()  # nltk finds WordNet offline (nlpaug would otherwise call nltk.download)
    sentences = lee_sentences(args.n)
    warm_up = load_polarity().train
    print(
        f"{len(sentences)} Lee sentences, {sum(len(s.split()) for s in sentences)} words, swap rate {args.p}"
    )

    view = SynonymSwap(p=args.p, min_swaps=1, max_swaps=10)
    runners = {
        "pairs": lambda s, _c=[0]: view(s, generator=(_c.__setitem__(0, _c[0] + 1) or _c[0])),
        "eda_reference": eda_synonym_replacement(lex.wordnet(), lex.STOP_WORDS, args.p, seed=0),
    }
    try:
        runners["nlpaug"] = make_nlpaug(args.p)
    except ImportError:
        print("nlpaug is not installed (pip install nlpaug): skipping it")

    results: dict[str, tuple[float, float]] = {}
    for name, fn in runners.items():
        fn(warm_up)
        cold, out = timed(fn, sentences)
        warm = statistics.median(timed(fn, sentences)[0] for _ in range(args.repeats))
        results[name] = (cold, warm)
        changed = sum(a != b for a, b in zip(sentences, out))
        print(
            f"{name:>14}: cold {cold:8.3f} s ({len(sentences) / cold:9.0f} sent/s)   warm {warm:8.3f} s "
            f"({len(sentences) / warm:9.0f} sent/s)   sentences changed {changed}/{len(sentences)}"
        )
    ours_cold, ours_warm = results["pairs"]
    for anchor in ("nlpaug", "eda_reference"):
        if anchor not in results:
            continue
        cold, warm = results[anchor]
        note = "nlpaug's nltk.pos_tag replaced by an all-NN stand-in" if anchor == "nlpaug" else ""
        for regime, a, o, target in (("cold", cold, ours_cold, None), ("warm", warm, ours_warm, 20.0)):
            report(
                "text_views",
                f"synonym swap, {len(sentences)} sentences, p={args.p}, vs {anchor} ({regime} pass)",
                round(len(sentences) / o, 1),
                round(len(sentences) / a, 1),
                "sentences/s",
                a / o,
                target=target if anchor == "nlpaug" else None,
                tagger_note=note,
            )


if __name__ == "__main__":
    main()
