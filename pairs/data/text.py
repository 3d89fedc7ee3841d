"""Text data that works offline: real sentences and documents shipped with gensim, and a user's text file.

Specs registered here (all under the name ``text``):

* ``text:polarity``: Pang & Lee's 200 labelled movie-review sentences (100 negative, 100 positive) from
  gensim's test data (``pang_lee_polarity.cor``, latin-1); a fixed stratified 75/25 split
  (``random_state=0``), labels ``neg=0``, ``pos=1``.
* ``text:lee``: the Lee corpus: 300 news documents (``lee_background.cor``) to train on, and the 50 documents
  (``lee.cor``) rated for similarity by humans as the held-out set; the 50x50 human similarity matrix
  (``similarities0-1.txt``, symmetrised) is ``info["human_similarity"]``. No class labels.
* ``text:wiki``: unlabelled English text to train on: passages of 3 consecutive sentences from the
  Wikipedia extract in gensim's test data (``enwiki-latest-pages-articles1...-shortened.bz2``, markup
  stripped by gensim's ``filter_wiki``, about 17,000 sentences) and from the 300 Lee background documents,
  plus the 200 polarity sentences without their labels. Held out: the Lee corpus's 50 human-rated documents
  (``info["human_similarity"]``, for ``lee_spearman``); ``info["probe_texts"]``/``["probe_labels"]`` hold
  the 200 labelled polarity sentences for a cross-validated probe. The Wikipedia sentences are extracted
  once (about 20 s) and kept as a plain-text file in ``$PAIRS_CACHE/text`` (default ``~/.cache/pairs``).
* ``text:FILE``: one sample per line (blank lines skipped). When every line starts with a fastText label
  ``__label__NAME``, the labels are read (classes in sorted order) and the data gets a stratified 80/20
  split; otherwise the data is unlabelled. (A file named ``lee`` or ``polarity`` is given as ``text:./lee``.)

gensim is needed only for the first two (``pip install gensim``); its data files ship in the wheel.

Reference:
    Pang & Lee 2005, "Seeing stars: exploiting class relationships for sentiment categorization"; Lee,
    Pincombe & Welsh 2005, "An empirical evaluation of models of text document similarity".
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import numpy as np
import torch

from pairs.data.registry import DataBundle, register_data
from pairs.errors import DataError

__all__ = [
    "gensim_data_path",
    "lee_sentences",
    "load_lee",
    "load_polarity",
    "load_text",
    "load_text_file",
    "load_wiki",
    "passages",
    "read_lines",
    "split_sentences",
    "wiki_sentences",
]

BUILTIN = ("lee", "polarity", "wiki")
WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
_WIKI_CACHE_VERSION = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LABEL = "__label__"


def gensim_data_path(name: str) -> Path:
    """Path of a file in gensim's bundled test data (found without importing gensim's heavy modules).

    Raises:
        ValueError: when gensim is not installed or lacks the file.
    """
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"data spec text:{Path(name).stem.split('_')[0]} needs the gensim package, whose wheel ships the "
            "real sentences: pip install gensim"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / "test" / "test_data" / name
        if path.is_file():
            return path
    raise DataError(f"gensim is installed but its test data lacks {name}; reinstall gensim")


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose mark is its prefix
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_lines(path: Path) -> tuple[list[str], str]:
    """Non-blank lines of a text file (trailing newline and spaces stripped) and the encoding used.

    A byte-order mark names the encoding (UTF-8, UTF-16 or UTF-32, either byte order); without one, UTF-8 is
    tried first, then latin-1.

    Raises:
        ValueError: for a missing, empty or binary file.
    """
    if not path.exists():
        raise DataError(f"text file not found: {path}")
    if not path.is_file():
        raise DataError(f"text:FILE needs a file with one sample per line, but {path} is a folder")
    raw = path.read_bytes()
    bom = next((name for mark, name in _BOMS if raw.startswith(mark)), None)
    if bom is not None:  # a byte-order mark says the encoding (UTF-16/32 text holds NUL bytes)
        try:
            text, encoding = raw.decode(bom), bom
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path} starts with a {bom.upper()} byte-order mark but is not valid {bom.upper()} text "
                f"({err.reason} at byte {err.start}); save it as UTF-8, one sample per line"
            ) from None
    elif b"\x00" in raw[:65536]:
        raise DataError(
            f"{path} looks like a binary file (it holds NUL bytes); text:FILE needs plain text, one sample "
            "per line (UTF-8, latin-1, or UTF-16/32 with a byte-order mark)"
        )
    else:
        try:
            text, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = raw.decode("latin-1"), "latin-1"
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise DataError(f"{path} holds no text (every line is blank); expected one sample per line")
    return lines, encoding


def _split_labels(lines: list[str]) -> tuple[list[str], list[str] | None]:
    if not all(line.startswith(_LABEL) for line in lines):
        return lines, None
    labels, texts = [], []
    for line in lines:
        label, _, text = line[len(_LABEL) :].partition(" ")
        labels.append(label)
        texts.append(text.strip())
    return texts, labels


def _labelled_bundle(
    spec: str, texts: list[str], names: list[str], test_fraction: float, info: dict
) -> DataBundle:
    from pairs.data.images import stratified_split

    classes = sorted(set(names))
    y = np.array([classes.index(n) for n in names], dtype=np.int64)
    train, test = stratified_split(y, test_fraction)
    labels = torch.from_numpy(y)
    info = {
        **info,
        "classes": classes,
        "split": f"stratified {1 - test_fraction:.0%}/{test_fraction:.0%}, random_state=0",
    }
    return DataBundle(
        spec,
        "text",
        [texts[i] for i in train],
        labels[train],
        [texts[i] for i in test],
        labels[test],
        info,
    )


def load_polarity(arg: str | None = None) -> DataBundle:
    """Pang & Lee's 200 labelled sentences, stratified 75/25 (see the module docstring)."""
    path = gensim_data_path("pang_lee_polarity.cor")
    lines, _ = read_lines(path)
    texts, names = _split_labels(lines)
    if names is None:
        raise DataError(f"{path} is not in the expected '__label__NAME text' format")
    return _labelled_bundle(
        "text:polarity", texts, names, 0.25, {"source": f"gensim {path.name} (Pang & Lee 2005)"}
    )


def load_lee(arg: str | None = None) -> DataBundle:
    """The Lee corpus: 300 background documents to train on, 50 rated documents and their human similarity."""
    train, _ = read_lines(gensim_data_path("lee_background.cor"))
    test, _ = read_lines(gensim_data_path("lee.cor"))
    matrix = np.loadtxt(gensim_data_path("similarities0-1.txt"), dtype=np.float64)
    if matrix.shape != (len(test), len(test)):
        raise DataError(f"the Lee similarity matrix is {matrix.shape}, expected {(len(test), len(test))}")
    upper = np.triu(matrix, 1)
    sym = upper + upper.T + np.eye(len(test))
    return DataBundle(
        "text:lee",
        "text",
        train,
        None,
        test,
        None,
        {
            "source": "gensim lee_background.cor (300 docs), lee.cor (50 docs), similarities0-1.txt",
            "human_similarity": torch.from_numpy(sym),
            "split": "train: 300 background documents; held-out: the 50 human-rated documents",
        },
    )


def split_sentences(text: str, min_words: int = 5) -> list[str]:
    """Sentences of ``text`` (split after ``.``, ``!``, ``?`` and white space) of ``min_words`` words or more.

    Args:
        text: a document.
        min_words: shortest sentence kept, in white-space separated words.

    Returns:
        The sentences, in order, stripped.
    """
    return [s.strip() for s in _SENTENCE_END.split(text) if len(s.split()) >= min_words]


def lee_sentences(min_words: int = 5) -> list[list[str]]:
    """The sentences of each of the 300 Lee background documents (about 2,600 with ``min_words=5``)."""
    docs, _ = read_lines(gensim_data_path("lee_background.cor"))
    return [split_sentences(d, min_words) for d in docs]


def _clean_sentence(s: str) -> bool:
    words = s.split()
    return (
        6 <= len(words) <= 60
        and s[:1].isupper()
        and s[-1:] in ".!?"
        and sum(c.isalpha() for c in s) > 0.7 * len(s)
        and "|" not in s
    )


def _wiki_articles() -> list[list[str]]:
    """The clean sentences of each article of the Wikipedia extract (cached; see :func:`wiki_sentences`)."""
    import bz2

    from pairs.views.text_lexicon import cache_dir, write_cache_file

    dump = gensim_data_path(WIKI_DUMP)
    cache = cache_dir() / "text" / f"enwiki-sentences-v{_WIKI_CACHE_VERSION}-{dump.stat().st_size}.txt"
    if cache.is_file():
        articles = cache.read_text(encoding="utf-8").split("\n\n")
        return [a.splitlines() for a in articles if a.strip()]
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    out: list[list[str]] = []
    with bz2.BZ2File(dump) as handle:
        for _, text, _ in extract_pages(handle):
            if text.lstrip().lower().startswith("#redirect"):
                continue
            plain = filter_wiki(text).replace("'''", "").replace("''", "")  # bold/italic marks left over
            kept = [
                s
                for paragraph in plain.split("\n")
                for s in _SENTENCE_END.split(paragraph.strip())
                if _clean_sentence(s)
            ]
            if kept:
                out.append(kept)
    write_cache_file(cache, "\n\n".join("\n".join(a) for a in out) + "\n")
    return out


def wiki_sentences() -> list[str]:
    """About 17,000 clean English sentences from the Wikipedia extract shipped in gensim's test data.

    Markup is removed with gensim's ``filter_wiki``; redirects are skipped; a sentence is kept when it has
    6-60 words, starts upper-case, ends with ``.``, ``!`` or ``?``, is mostly letters and holds no table
    bar. The result is cached as UTF-8 text (one sentence per line, a blank line between articles) in
    ``$PAIRS_CACHE/text``, keyed by the dump's size and a format version (kept in memory only when that
    folder is read-only).

    Raises:
        ValueError: when gensim is not installed.
    """
    return [s for article in _wiki_articles() for s in article]


def passages(documents: list[list[str]], size: int = 3) -> list[str]:
    """Consecutive sentences of each document joined into passages of ``size`` (the last may be shorter).

    Two crops of one passage are then usually different sentences on one topic, the positive pairs of
    DeCLUTR-style training.

    Args:
        documents: each document as its list of sentences.
        size: sentences per passage.

    Returns:
        The passages, documents in order; passages never cross documents.

    Raises:
        ValueError: for a ``size`` below 1.

    Reference:
        Giorgi et al. 2021, "DeCLUTR: Deep Contrastive Learning for Unsupervised Textual Representations".
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DataError(f"passages: size must be an int >= 1, got {size!r}")
    return [" ".join(doc[i : i + size]) for doc in documents for i in range(0, len(doc), size)]


def load_wiki(arg: str | None = None) -> DataBundle:
    """Unlabelled passages (Wikipedia, Lee news) and polarity sentences to train on (see the module)."""
    lee, polarity = load_lee(), load_polarity()
    texts = polarity.train + polarity.test
    labels = torch.cat([polarity.train_labels, polarity.test_labels])
    train = passages(_wiki_articles() + lee_sentences(), 3) + texts
    return DataBundle(
        "text:wiki",
        "text",
        train,
        None,
        lee.test,
        None,
        {
            "source": f"gensim {WIKI_DUMP} (filter_wiki), lee_background.cor, pang_lee_polarity.cor"
            " (no labels); held out: lee.cor",
            "human_similarity": lee.info["human_similarity"],
            "probe_texts": texts,
            "probe_labels": labels,
            "split": "train: unlabelled 3-sentence passages and the 200 polarity sentences (labels unused); "
            "held out: the 50 human-rated Lee documents; probe: cross-validation on the 200 polarity labels",
        },
    )


def load_text_file(arg: str) -> DataBundle:
    """A user's text file, one sample per line (fastText ``__label__`` prefixes give labels)."""
    path = Path(arg).expanduser()
    lines, encoding = read_lines(path)
    texts, names = _split_labels(lines)
    spec = f"text:{arg}"
    info = {"source": str(path), "encoding": encoding}
    if names is not None and len(set(names)) >= 2 and len(texts) >= 10:
        return _labelled_bundle(spec, texts, names, 0.2, info)
    info["split"] = "none (unlabelled or too few lines): no held-out evaluation"
    return DataBundle(spec, "text", texts, None, None, None, info)


def load_text(arg: str | None) -> DataBundle:
    """``text:lee``, ``text:polarity``, ``text:wiki`` or ``text:FILE``."""
    if not arg:
        raise DataError("data spec 'text' needs an argument: text:lee, text:polarity, text:wiki or text:FILE")
    if arg in BUILTIN:  # a file called "lee" in the working folder is text:./lee
        return {"lee": load_lee, "polarity": load_polarity, "wiki": load_wiki}[arg](None)
    return load_text_file(arg)


register_data(
    "text",
    load_text,
    domain="text",
    description="real text: text:polarity (200 labelled sentences), text:lee (news docs + human "
    "similarities), text:wiki (19k unlabelled sentences), all shipped in gensim; or text:FILE, one per line",
    argument="lee|polarity|wiki|FILE",
)
