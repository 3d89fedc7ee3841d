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
* ``text:FILE``: a ``.txt`` file, one sample per line (blank lines skipped). When every line starts with a
  fastText label ``__label__NAME``, the labels are read (classes in sorted order) and the data gets a
  stratified 80/20 split; otherwise the data is unlabelled. (A file named ``lee`` or ``polarity`` is given
  as ``text:./lee``.)
* ``text:FILE.jsonl``, ``text:FILE.csv``, ``text:FILE.parquet``: a table; the text is column ``text``
  unless ``@column=NAME`` names another, and ``label=NAME`` names a label column:
  ``text:reviews.csv@column=body,label=stars``. Streamed (:class:`TextFileSource`): only byte offsets
  (rows) and labels are read at start; each text is read when the loader asks for it.

gensim is needed only for the first two (``pip install gensim``); its data files ship in the wheel.

Reference:
    Pang & Lee 2005, "Seeing stars: exploiting class relationships for sentiment categorization"; Lee,
    Pincombe & Welsh 2005, "An empirical evaluation of models of text document similarity".
"""

from __future__ import annotations

import codecs
import re
from array import array
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from tqdm.auto import tqdm

from pairs.data.registry import DataBundle, register_data
from pairs.data.source import Source, SubsetSource
from pairs.errors import DataError, DependencyError

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
    return DataBundle.from_split(spec, "text", texts, labels, train, test, info)


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
    assert polarity.train_labels is not None and polarity.test_labels is not None  # a labelled set
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


TABLE_SUFFIXES = (".jsonl", ".csv", ".parquet")
"""Files read as tables: the text is a named column (``@column=NAME``), labels another (``label=NAME``)."""


class _FileHandle:
    """A file opened lazily in each process that reads it (DataLoader workers get their own handle)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fh: BinaryIO | None = None

    def read_at(self, offset: int, size: int = -1) -> bytes:
        if self._fh is None:
            self._fh = open(self.path, "rb")  # noqa: SIM115 - kept open for the life of the source
        self._fh.seek(offset)
        return self._fh.read(size) if size >= 0 else self._fh.readline()

    def __getstate__(self) -> dict:
        return {"path": self.path, "_fh": None}


def _text_error(path: Path, what: str) -> DataError:
    return DataError(
        f"{path}: {what}; text:FILE expects a .txt file (one text per line, optional fastText __label__NAME "
        "prefixes) or a .jsonl/.csv/.parquet table with the text in a named column, e.g. "
        "text:FILE.csv@column=text,label=label"
    )


class TextFileSource(Source):
    """Texts read on demand from one file, by byte offset (``.txt``, ``.jsonl``, ``.csv``) or row (Parquet).

    Indexing reads the file once as bytes (never decoding it whole) and keeps one int64 offset per text
    and, when asked for, one label per text: memory grows by a few bytes per text, not by the text.

    * ``.txt`` (and any other suffix): one text per non-blank line; fastText ``__label__NAME`` prefixes,
      when every line has one, are the labels (and are cut from the text). ``item_id``: ``path:line``
      (1-based line number).
    * ``.jsonl``: one JSON object per line; the text is field ``column``, the label field ``label``.
      ``item_id``: ``path:line``.
    * ``.csv``: a header row, then records (quoted fields may hold newlines); ``column`` / ``label`` name
      header fields. ``item_id``: ``path:row`` (0-based data row).
    * ``.parquet``: columns ``column`` / ``label``, read one row group at a time (the last one kept per
      worker; write files with small row groups, e.g. 10,000 rows, for fast random access). ``path:row``.

    Args:
        path: the file.
        column: the text column of a table (default ``"text"``).
        label: the label column of a table, or ``None``.
    """

    domain = "text"

    def __init__(self, path: str | Path, column: str | None = None, label: str | None = None) -> None:
        super().__init__()
        self.path = Path(path).expanduser().absolute()
        self.kind = self.path.suffix.lower()
        self.column, self.label = column, label
        if not self.path.exists():
            raise DataError(f"text file not found: {self.path}")
        if not self.path.is_file():
            raise DataError(f"text:FILE needs a file with one sample per line, but {self.path} is a folder")
        self.encoding = "utf-8"
        self.prefixed = False
        self._file = _FileHandle(str(self.path))
        if self.kind == ".parquet":
            names = self._index_parquet()
        elif self.kind == ".csv":
            names = self._index_csv()
        else:
            names = self._index_lines()
        if len(self.offsets) == 0:
            raise _text_error(self.path, "holds no text (every line is blank)")
        self.labels, self.classes = None, []
        if names is not None:
            self.classes = sorted(set(names))
            index = {c: i for i, c in enumerate(self.classes)}
            self.labels = torch.tensor([index[n] for n in names], dtype=torch.long)
        self.info = {"source": str(self.path), "texts": len(self.offsets), "format": self.kind.lstrip(".")}

    # -- indexing ----------------------------------------------------------------------------------------
    def _index_lines(self) -> list[str] | None:
        import json

        with open(self.path, "rb") as fh:
            head = fh.read(65536)
        if any(head.startswith(mark) for mark, name in _BOMS if name != "utf-8-sig"):
            raise _text_error(self.path, "is UTF-16/32 text, which is read whole, not streamed")
        if b"\x00" in head:
            raise _text_error(self.path, "looks like a binary file")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as err:
            if err.start < len(head) - 4:  # not just a character cut at the end of the block
                self.encoding = "latin-1"
        jsonl = self.kind == ".jsonl"
        if jsonl and not self.column:
            self.column = "text"
        if not jsonl and self.label is not None:
            raise _text_error(self.path, "a .txt file has no columns; its labels are __label__NAME prefixes")
        offsets, lines = array("q"), array("q")
        names: list[str] = []
        prefixed, pos = True, 0
        bar = tqdm(
            total=self.path.stat().st_size,
            desc="indexing text",
            unit="B",
            unit_scale=True,
            disable=None,
            leave=False,
        )
        with open(self.path, "rb") as fh, bar:
            for number, raw in enumerate(fh, start=1):
                start = pos
                pos += len(raw)
                if number % 65536 == 0:
                    bar.update(pos - bar.n)
                if number == 1 and raw.startswith(codecs.BOM_UTF8):  # a UTF-8 byte-order mark: skip it
                    raw, start = raw[len(codecs.BOM_UTF8) :], start + len(codecs.BOM_UTF8)
                if raw.strip():
                    offsets.append(start)
                    lines.append(number)
                    if jsonl and self.label is not None:
                        try:
                            record = json.loads(raw)
                        except ValueError as err:
                            raise _text_error(self.path, f"line {number} is not JSON ({err})") from None
                        if not isinstance(record, dict) or self.label not in record:
                            raise _text_error(self.path, f"line {number} has no field {self.label!r}")
                        names.append(str(record[self.label]))
                    elif not jsonl and prefixed:
                        if raw.startswith(b"__label__"):
                            names.append(
                                raw[len(_LABEL) :].split(None, 1)[0].decode(self.encoding, "replace")
                            )
                        else:
                            prefixed = False
        self.offsets = np.array(offsets, dtype=np.int64)
        self.lines = np.array(lines, dtype=np.int64)
        if jsonl:
            if len(self.offsets):
                try:
                    first = json.loads(self._file.read_at(int(self.offsets[0])))
                except ValueError as err:
                    raise _text_error(self.path, f"line {int(self.lines[0])} is not JSON ({err})") from None
                if not isinstance(first, dict) or self.column not in first:
                    fields = sorted(first) if isinstance(first, dict) else type(first).__name__
                    raise _text_error(self.path, f"its records have no field {self.column!r} ({fields})")
            return names if self.label is not None else None
        self.prefixed = prefixed and bool(names)
        return names if self.prefixed else None

    def _index_csv(self) -> list[str] | None:
        import csv
        import io

        offsets = array("q")
        pos, open_quotes, header, record_start = 0, False, None, 0
        with open(self.path, "rb") as fh:
            for raw in fh:
                if not open_quotes:
                    record_start = pos
                if raw.count(b'"') % 2 == 1:
                    open_quotes = not open_quotes
                pos += len(raw)
                if open_quotes:
                    continue
                if header is None:
                    header = self._file.read_at(record_start, pos - record_start)
                elif raw.strip():
                    offsets.append(record_start)
        if header is None:
            raise _text_error(self.path, "is empty")
        self.header = next(csv.reader(io.StringIO(header.decode("utf-8-sig", "replace"))))
        self.column = self.column or "text"
        for name in (self.column, self.label):
            if name is not None and name not in self.header:
                raise _text_error(self.path, f"its header has no column {name!r} (columns: {self.header})")
        self.col_index = self.header.index(self.column)
        self.offsets = np.array(offsets, dtype=np.int64)
        self.ends = np.append(self.offsets[1:], pos).astype(np.int64)
        if self.label is None:
            return None
        import pandas as pd

        values = pd.read_csv(self.path, usecols=[self.label], dtype=str, keep_default_na=False)[self.label]
        if len(values) != len(self.offsets):
            raise _text_error(self.path, f"has {len(values)} rows for pandas but {len(self.offsets)} records")
        return values.tolist()

    def _index_parquet(self) -> list[str] | None:
        try:
            import pyarrow.parquet as pq
        except ImportError as err:
            raise DependencyError("reading .parquet text needs pyarrow: pip install pyarrow") from err
        try:
            meta = pq.ParquetFile(self.path)
        except Exception as err:  # pyarrow raises its own error types for damaged files
            raise _text_error(self.path, f"cannot be read as Parquet ({err})") from None
        names = meta.schema_arrow.names
        self.column = self.column or "text"
        for name in (self.column, self.label):
            if name is not None and name not in names:
                raise _text_error(self.path, f"has no column {name!r} (columns: {names})")
        sizes = [meta.metadata.row_group(g).num_rows for g in range(meta.num_row_groups)]
        self.group_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.offsets = np.arange(int(self.group_starts[-1]), dtype=np.int64)
        self._group: tuple[int, list[str]] | None = None
        if self.label is None:
            return None
        return [str(v) for v in pq.read_table(self.path, columns=[self.label]).column(0).to_pylist()]

    # -- items -------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, i: int) -> str:
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f"text {i} out of range for {len(self)} texts")
        if self.kind == ".parquet":
            return self._parquet_text(i)
        if self.kind == ".csv":
            import csv
            import io

            raw = self._file.read_at(int(self.offsets[i]), int(self.ends[i] - self.offsets[i]))
            row = next(csv.reader(io.StringIO(raw.decode("utf-8", "replace"))))
            return row[self.col_index] if self.col_index < len(row) else ""
        line = self._file.read_at(int(self.offsets[i])).decode(self.encoding, "replace").rstrip("\r\n")
        if self.kind == ".jsonl":
            import json

            return str(json.loads(line).get(self.column, ""))
        if self.prefixed:
            return line[len(_LABEL) :].partition(" ")[2].strip()
        return line.rstrip()

    def _parquet_text(self, i: int) -> str:
        import pyarrow.parquet as pq

        g = int(np.searchsorted(self.group_starts, i, side="right")) - 1
        if self._group is None or self._group[0] != g:
            table = pq.ParquetFile(self.path).read_row_group(g, columns=[self.column])
            self._group = (g, [str(v) for v in table.column(0).to_pylist()])
        return self._group[1][i - int(self.group_starts[g])]

    def item_id(self, i: int) -> str:
        if self.kind in (".csv", ".parquet"):
            return f"{self.path}:{int(i)}"
        return f"{self.path}:{int(self.lines[int(i)])}"


def _wide_unicode(path: Path) -> bool:
    """Whether the file starts with a UTF-16 or UTF-32 byte-order mark."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return any(head.startswith(mark) for mark, name in _BOMS if name != "utf-8-sig")


def _text_options(arg: str) -> tuple[str, dict[str, str]]:
    """``FILE@column=text,label=label`` -> ``("FILE", {"column": "text", "label": "label"})``."""
    path, sep, tail = arg.rpartition("@")
    if not sep or "=" not in tail:
        return arg, {}
    options: dict[str, str] = {}
    for part in tail.split(","):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in ("column", "label") or not value:
            raise DataError(
                f"text:{arg}: the options after '@' are column=NAME and label=NAME, comma-separated "
                f"(e.g. text:FILE.csv@column=text,label=label); got {part!r}"
            )
        options[key] = value
    return path, options


def load_text_file(arg: str) -> DataBundle:
    """A user's text file, streamed (see :class:`TextFileSource`): ``text:FILE[@column=NAME[,label=NAME]]``.

    With labels (fastText prefixes, or a label column) and at least 10 texts of 2 classes, a stratified
    80/20 split; otherwise all texts train and there is no held-out evaluation.
    """
    path_text, options = _text_options(arg)
    path = Path(path_text).expanduser().absolute()
    if options and path.suffix.lower() not in TABLE_SUFFIXES:
        raise _text_error(path, "column options apply to .jsonl, .csv and .parquet files only")
    if not options and path.is_file() and _wide_unicode(path):  # UTF-16/32: read whole, as before
        lines, encoding = read_lines(path)
        texts, names = _split_labels(lines)
        info: dict[str, Any] = {"source": str(path), "encoding": encoding}
        if names is not None and len(set(names)) >= 2 and len(texts) >= 10:
            return _labelled_bundle(f"text:{path}", texts, names, 0.2, info)
        info["split"] = "none (unlabelled or too few lines): no held-out evaluation"
        return DataBundle(f"text:{path}", "text", texts, None, None, None, info)
    source = TextFileSource(path, options.get("column"), options.get("label"))
    spec = f"text:{path}" + ("@" + ",".join(f"{k}={v}" for k, v in options.items()) if options else "")
    info = {**source.info, "encoding": source.encoding, "classes": source.classes}
    labels = source.labels
    if labels is not None and len(source.classes) >= 2 and len(source) >= 10:
        from pairs.data.images import stratified_split

        train, test = stratified_split(labels.numpy(), 0.2)
        info["split"] = "stratified 80%/20%, random_state=0"
        return DataBundle(
            spec, "text", SubsetSource(source, train), test=SubsetSource(source, test), info=info
        )
    info["split"] = "none (unlabelled or too few lines): no held-out evaluation"
    return DataBundle(spec, "text", source, info=info)


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
    "similarities), text:wiki (19k unlabelled sentences), all shipped in gensim; or text:FILE.txt, one per "
    "line (__label__ prefixes), or text:FILE.jsonl|.csv|.parquet@column=NAME,label=NAME",
    argument="lee|polarity|wiki|FILE",
)
