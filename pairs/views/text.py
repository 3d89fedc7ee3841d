"""Text views on strings: WordNet synonym swap that keeps grammar, spacing and case; EDA operations; crops.

One sample is a ``str``; a batch is a ``list[str]``. Every view draws, per example, a list of edits
``Edit(start, end, old, new)`` in the *original* string's character offsets, and applies them by splicing
(as TextAttack's ``AttackedText`` does), never by tokenising and re-joining: punctuation, contractions
("don't"), spacing and newlines outside the edited words survive unchanged, and ``replay`` reproduces a
view exactly from its parameters. Randomness comes only from the given ``torch.Generator`` (one 62-bit
seed per batch, drawn with torch, drives the Python choices of its examples in order).

Views:

* :class:`SynonymSwap`: replace a fraction of the content words by WordNet synonyms of the same part of
  speech, re-inflected to the original Penn tag ("agrees" -> "concurs", plural stays plural) and re-cased
  ("Quick" -> "Fast", "QUICK" -> "FAST"). WordNet comes offline (see :mod:`pairs.views.text_lexicon`);
  synonyms come from a table built once and cached on disk, so a swap is a dict look-up.
* EDA (Wei & Zou 2019): :class:`RandomInsertion` (of synonyms), :class:`RandomSwap`,
  :class:`RandomDeletion`; and :func:`eda_view` choosing one of the four per example.
* :class:`WordDropout` (replace words by an unknown token) and :class:`SpanCrop` (a contiguous sub-span of
  the words, whose offsets in the original are the parameters).

Example:
    >>> from pairs.views.text import SynonymSwap
    >>> view = SynonymSwap(p=0.3)
    >>> out, params = view("The committee agrees: don't delay the vote.", generator=0, return_params=True)
    >>> params["edits"][0]  # doctest: +SKIP
    [Edit(start=14, end=20, old='agrees', new='concurs')]

Reference:
    Wei & Zou 2019, "EDA: Easy Data Augmentation Techniques for Boosting Performance on Text
    Classification Tasks"; Miller 1995, "WordNet: a lexical database for English"; Morris et al. 2020,
    "TextAttack" (splicing edits by character offsets).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, overload

import torch

from pairs.validation import integer, probability
from pairs.views import text_lexicon as lex
from pairs.views.base import Compose, OneOf, Params, View

__all__ = [
    "Edit",
    "RandomDeletion",
    "RandomInsertion",
    "RandomSwap",
    "SpanCrop",
    "SynonymFinder",
    "SynonymSwap",
    "TextView",
    "WordDropout",
    "eda_view",
    "splice",
    "synonym_crop_view",
    "word_spans",
]

WORD_RE = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")
"""A word: letters/digits, with inner apostrophes or hyphens ("don't", "well-known" are one word)."""

_DETERMINERS = frozenset(
    "the a an this that these those my your his her its our their every each no some any another".split()
)
_INFINITIVE = frozenset("to will would shall should can could may might must do does did".split())
_OPENERS = "\"'([{\u201c\u2018\u00ab"


class Edit(NamedTuple):
    """Replace ``old == text[start:end]`` by ``new`` (offsets in the view's input string)."""

    start: int
    end: int
    old: str
    new: str


_new_edit = tuple.__new__  # builds an Edit from a 4-tuple without the namedtuple's Python-level __new__


MARKUP_RE = re.compile(
    r"<!--.*?-->"  # an HTML comment
    r"|</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>"  # a tag: <b>, </b>, <br/>, <a href="x">
    r"|&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});",  # an entity: &amp; &#39; &#x27;
    re.DOTALL,
)
"""HTML/XML markup that views leave alone: tags, comments and character entities are never words."""

_WORD_OR_MARKUP_RE = re.compile(f"(?:{MARKUP_RE.pattern})|({WORD_RE.pattern})", re.DOTALL)


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the words of ``text`` (see :data:`WORD_RE`).

    Markup (:data:`MARKUP_RE`: tags such as ``<b>``, comments, entities such as ``&amp;``) is skipped, so
    views keep it verbatim; the words between tags are words as usual (``"<b>Hello</b>"`` has one word,
    ``Hello``).
    """
    if "<" not in text and "&" not in text:  # the common case: no markup to skip
        return [m.span() for m in WORD_RE.finditer(text)]
    return [m.span(1) for m in _WORD_OR_MARKUP_RE.finditer(text) if m.start(1) >= 0]


def splice(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits to ``text`` by character offsets.

    Args:
        text: the original string.
        edits: edits whose ``old`` is ``text[start:end]`` (any order).

    Returns:
        The edited string; everything outside the edited spans is copied unchanged.

    Raises:
        ValueError: when edits overlap, fall outside the text or do not match it (e.g. replaying
            parameters on another string).
    """
    out, pos = [], 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        start, end, old, new = edit
        if start < pos or end < start or end > len(text):
            raise ValueError(
                f"edit {tuple(edit)} overlaps another edit or falls outside a text of length {len(text)}"
            )
        if text[start:end] != old:
            raise ValueError(
                f"edit {tuple(edit)} does not match the text (found {text[start:end]!r}); parameters can "
                "only be replayed on the strings they were drawn for"
            )
        out += [text[pos:start], new]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _splice_drawn(text: str, edits: list[Edit]) -> str:
    out, pos = [], 0
    for start, end, _, new in edits:
        out += [text[pos:start], new]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _case_pattern(word: str) -> str:
    if word.islower():
        return "lower"
    if word.isupper():
        return "upper" if len(word) > 1 else "title"
    if word[0].isupper() and word[1:].islower():
        return "title"
    return "mixed"


def _apply_case(new: str, pattern: str) -> str:
    if pattern == "upper":
        return new.upper()
    if pattern == "title":
        return new[:1].upper() + new[1:]
    return new


def _sentence_start(text: str, start: int) -> bool:
    """Whether the word at ``start`` begins the text, a line or a sentence."""
    i = start - 1
    while i >= 0 and (text[i] in " \t" or text[i] in _OPENERS):
        i -= 1
    return i < 0 or text[i] in ".!?\n\r:;\u2026"


def _batch_rng(generator: torch.Generator) -> random.Random:
    """A Python RNG seeded by one 62-bit draw from ``generator`` (drives one batch's per-example choices)."""
    seed = torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item()
    return random.Random(int(seed))


class TextView(View):
    """Base class of the text views: a sample is a ``str``, a batch a ``list[str]``.

    Subclasses implement :meth:`edits_for` (per-example edits from a ``random.Random``); sampling draws
    one seed per batch from the generator (the examples then take their draws in order, so each gets its
    own), and ``apply`` splices the edits.
    """

    def to_batch(self, x: Any) -> tuple[list[str], bool]:
        if isinstance(x, str):
            return [x], True
        if isinstance(x, tuple):
            x = list(x)
        if not isinstance(x, list):
            raise TypeError(
                f"{type(self).__name__} expects a str or a list of str, got {type(x).__name__}"
                + (" (None)" if x is None else "")
            )
        for i, item in enumerate(x):
            if not isinstance(item, str):
                raise TypeError(
                    f"{type(self).__name__} expects a list of str, but item {i} is {type(item).__name__}"
                    f" ({item!r:.40}); convert or drop non-string samples first"
                )
        return x, False

    def from_batch(self, batch: Any, was_single: bool) -> Any:
        return batch[0] if was_single else batch

    def edits_for(self, text: str, rng: random.Random) -> list[Edit]:
        """The edits of one example (offsets into ``text``)."""
        raise NotImplementedError

    def sample(self, batch: list[str], generator: torch.Generator) -> Params:
        rng = _batch_rng(generator)
        return {"edits": [self.edits_for(text, rng) for text in batch]}

    def forward(self, batch: list[str], generator: torch.Generator) -> tuple[list[str], Params]:
        params = self.sample(batch, generator)
        # the edits were just drawn from these texts (sorted, matching): splice without re-checking them
        return [_splice_drawn(t, e) if e else t for t, e in zip(batch, params["edits"])], params

    def apply(self, batch: list[str], params: Params) -> list[str]:
        edits = params["edits"]
        if len(edits) != len(batch):
            raise ValueError(
                f"{type(self).__name__}: parameters hold edits for {len(edits)} texts but the batch has "
                f"{len(batch)}; replay needs the batch the parameters were drawn for"
            )
        return [splice(text, [Edit(*e) for e in ed]) for text, ed in zip(batch, edits)]


# --------------------------------------------------------------------------------------------------
# Synonyms
# --------------------------------------------------------------------------------------------------


@overload
def _check_count(value: int, name: str, allow_none: Literal[False] = False) -> int: ...
@overload
def _check_count(value: int | None, name: str, allow_none: Literal[True]) -> int | None: ...
def _check_count(value: int | None, name: str, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    return integer(name, value, minimum=0)


Tagger = Callable[[list[str]], Sequence[str]]


def _nltk_tagger() -> Tagger | None:
    """nltk's perceptron tagger when its model is in the user's nltk data (never downloaded)."""
    try:
        import nltk

        for name in ("taggers/averaged_perceptron_tagger_eng", "taggers/averaged_perceptron_tagger"):
            try:
                nltk.data.find(name)
            except LookupError:
                continue

            def tag(words: list[str]) -> list[str]:
                return [t for _, t in nltk.pos_tag(words)]

            return tag
    except Exception:  # noqa: BLE001 - a broken optional tagger must not break the view
        return None
    return None


class SynonymFinder:
    """Which words of a text may be swapped, and for what: the lexical core of :class:`SynonymSwap`.

    Args:
        max_senses: synonyms come from the word's first ``max_senses`` WordNet senses (most frequent
            first); ``None`` for all senses (EDA's choice, noisier).
        multiword: allow multiword synonyms ("ice_cream" -> "ice cream").
        stop_words: words never swapped (lower case); default :data:`~pairs.views.text_lexicon.STOP_WORDS`.
        protect: words never swapped: a set of words (case-insensitive) or a regex (``str`` or compiled)
            that a word must not fully match.
        keep_proper_nouns: leave capitalised words alone unless they start a sentence or a line.
        tagger: ``"auto"`` (nltk's tagger when its model is installed, else the lexicon), ``"lexicon"``,
            ``"nltk"`` (error when its model is missing), or a callable ``words -> Penn tags``.
        min_pos_share: with the lexicon, a word whose readings have several parts of speech is swapped
            only when one of them has at least this share of WordNet's tagged frequency (after a cheap
            context rule: a determiner before it rules out a verb, "to"/a modal rules out a noun).
        use_form_table: answer common words from the precomputed, disk-cached :meth:`form_table` (same
            answers as the analysis it replaces, computed once per setting).
    """

    def __init__(
        self,
        max_senses: int | None = 3,
        multiword: bool = False,
        stop_words: Iterable[str] | None = None,
        protect: Iterable[str] | str | re.Pattern | None = None,
        keep_proper_nouns: bool = True,
        tagger: str | Tagger = "auto",
        min_pos_share: float = 0.75,
        use_form_table: bool = True,
    ) -> None:
        if max_senses is not None and (
            isinstance(max_senses, bool) or not isinstance(max_senses, int) or max_senses < 1
        ):
            raise ValueError(f"max_senses must be a positive int or None, got {max_senses!r}")
        self.max_senses = max_senses
        self.multiword = bool(multiword)
        self.stop_words = frozenset(w.lower() for w in (lex.STOP_WORDS if stop_words is None else stop_words))
        self.protect = protect
        if protect is None:
            self._protect_words: frozenset[str] = frozenset()
            self._protect_re: re.Pattern | None = None
        elif isinstance(protect, (str, re.Pattern)):
            self._protect_words, self._protect_re = frozenset(), re.compile(protect)
        else:
            words = list(protect)
            if not all(isinstance(w, str) for w in words):
                raise TypeError("protect must be a set of str, a regex (str or re.Pattern), or None")
            self._protect_words, self._protect_re = frozenset(w.lower() for w in words), None
        self.keep_proper_nouns = bool(keep_proper_nouns)
        if not (callable(tagger) or tagger in ("auto", "lexicon", "nltk")):
            raise ValueError(f"tagger must be 'auto', 'lexicon', 'nltk' or a callable, got {tagger!r}")
        self.tagger = tagger
        self.min_pos_share = probability("min_pos_share", min_pos_share)
        self._tag_fn: Tagger | None | bool = False  # resolved lazily
        self._cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self.use_form_table = bool(use_form_table)
        self._forms: dict[str, str | list[str]] | None = None
        self._texts: dict[str, tuple[list[tuple[int, int]], list]] = {}
        self._slots: dict[str, tuple[int, tuple[tuple[int, int, str, tuple[str, ...]], ...]]] = {}
        self._table: lex.SynonymTable | None = None

    # -- set-up ----------------------------------------------------------------------------------------
    @property
    def table(self) -> lex.SynonymTable:
        if self._table is None:
            self._table = lex.synonym_table()
        return self._table

    def _tagger(self) -> Tagger | None:
        if self._tag_fn is False:
            if callable(self.tagger):
                self._tag_fn = self.tagger
            elif self.tagger == "lexicon":
                self._tag_fn = None
            else:
                self._tag_fn = _nltk_tagger()
                if self._tag_fn is None and self.tagger == "nltk":
                    raise LookupError(
                        "tagger='nltk' needs nltk's averaged perceptron tagger in your nltk data, which is "
                        "not installed; use tagger='lexicon' (or 'auto'), or install the model offline"
                    )
        return self._tag_fn  # type: ignore[return-value]

    def __getstate__(self) -> dict:  # pickling (DataLoader workers): drop caches and the table
        state = dict(self.__dict__)
        state.update(_cache={}, _texts={}, _slots={}, _table=None, _forms=None, _tag_fn=False)
        return state

    # -- lexical decisions -----------------------------------------------------------------------------
    def replacements(self, word: str, context: str = "") -> tuple[str, ...]:
        """Inflected replacements (lower case) of a lower-case ``word``.

        Args:
            word: the word, lower case.
            context: ``""``, ``"det"`` (after a determiner), ``"inf"`` (after "to" or a modal), or
                ``"tag:XX"`` (Penn tag ``XX`` given by a tagger).

        Returns:
            Candidate replacements, each in the word's Penn tag (checked against the lexicon).
        """
        key = (word, context)
        found = self._cache.get(key)
        if found is None:
            found = self._precomputed(word, context)
            if found is None:
                found = self._find(word, context)
            self._cache[key] = found
        return found

    # -- the precomputed word-form table ---------------------------------------------------------------
    FORMS_FORMAT = 1
    """Version of the on-disk word-form table layout (part of its cache key)."""

    _CONTEXTS = ("", "det", "inf")

    def forms_cache_path(self) -> Path:
        """The word-form table's file for this WordNet version and these settings."""
        senses = "all" if self.max_senses is None else self.max_senses
        name = (
            f"wordnet-{self.table.version}-forms-format{self.FORMS_FORMAT}-senses{senses}"
            f"-multiword{int(self.multiword)}-share{self.min_pos_share:g}.json"
        )
        return lex.cache_dir() / name

    def form_table(self) -> dict[str, str | list[str]]:
        """Replacements of every common word form (:meth:`SynonymTable.common_word_forms`), per context.

        Built once per WordNet version and settings (about 10 s) and cached on disk as JSON, so the
        first pass over new text is a dict look-up per word rather than a lexical analysis. An entry is
        ``"rep|rep|..."`` when the three lexicon contexts (none, after a determiner, after "to"/a modal)
        agree, else a list of three such strings; ``""`` means no replacement.
        """
        if self._forms is None:
            path = self.forms_cache_path()
            header = {"format": self.FORMS_FORMAT, "wordnet_version": self.table.version}
            forms = lex.read_json_cache(path, header, "forms")
            if forms is None:
                forms = {}
                for word in self.table.common_word_forms():
                    found = ["|".join(self._find(word, context)) for context in self._CONTEXTS]
                    forms[word] = found[0] if found[1] == found[2] == found[0] else found
                lex.write_json_cache(path, header, "forms", forms)
            self._forms = forms
        return self._forms

    def _precomputed(self, word: str, context: str) -> tuple[str, ...] | None:
        """The replacements from :meth:`form_table` (``None`` when it has no answer: a tagger's context,
        a rare word, or ``use_form_table=False``)."""
        if not self.use_form_table or context not in self._CONTEXTS:
            return None
        entry = self.form_table().get(word)
        if entry is None:
            return None
        found = entry if isinstance(entry, str) else entry[self._CONTEXTS.index(context)]
        return tuple(found.split("|")) if found else ()

    def _find(self, word: str, context: str) -> tuple[str, ...]:
        analyses = lex.word_analyses(word)
        if context.startswith("tag:"):
            tag = context[4:]
            analyses = tuple(a for a in analyses if a[0] == tag)
        elif context == "det":
            analyses = tuple(a for a in analyses if a[2] != "v") or analyses
        elif context == "inf":
            analyses = tuple(a for a in analyses if a[2] == "v" and a[0] in ("VB", "VBP")) or analyses
        table = self.table
        score: dict[str, int] = {}
        best_lemma: dict[str, tuple[int, str]] = {}
        for _, lemma, pos in analyses:
            count = table.count(lemma, pos)
            if count is None:
                continue
            score[pos] = score.get(pos, 0) + count + 1
            if pos not in best_lemma or count > best_lemma[pos][0]:
                best_lemma[pos] = (count, lemma)
        if not score:
            return ()
        pos = max(score, key=lambda p: (score[p], p))
        if score[pos] < self.min_pos_share * sum(score.values()):
            return ()  # ambiguous part of speech: leave the word alone
        lemma = best_lemma[pos][1]
        tags = sorted({t for t, lem, p in analyses if p == pos and lem == lemma})
        out: list[str] = []
        for synonym in table.synonyms(lemma, pos, self.max_senses, self.multiword):
            forms = {lex.inflect(synonym, t) for t in tags}
            if len(forms) != 1 or None in forms:
                continue  # the form would depend on a tag we cannot tell (e.g. past vs participle)
            form = forms.pop()
            assert form is not None  # None was ruled out above
            parts = form.split(" ")
            head = parts[0] if pos == "v" else parts[-1]
            if form == word or not set(tags) <= lex.penn_tags(head) or form in out:
                continue
            out.append(form)
        return tuple(out)

    def candidates(self, text: str) -> tuple[list[tuple[int, int]], list[tuple[int, tuple[str, ...], str]]]:
        """The words of ``text`` and those that may be swapped.

        Returns:
            ``(spans, eligible)``: every word's span, and ``(word index, replacements, case pattern)`` for
            each swappable word. Results are cached per text (up to :attr:`TEXT_CACHE` texts), since
            training sees the same texts every epoch.
        """
        found = self._texts.get(text)
        if found is None:
            if len(self._texts) >= self.TEXT_CACHE:
                self._texts.clear()
            found = self._texts[text] = self._candidates(text)
        return found

    TEXT_CACHE = 200_000
    """Most texts whose analysis is kept (the cache is emptied when full)."""

    def slots(self, text: str) -> tuple[int, tuple[tuple[int, int, str, tuple[str, ...]], ...]]:
        """The swappable words of ``text`` ready to splice: ``(n_words, ((start, end, old, cased), ...)))``.

        ``cased`` holds the replacements already in the word's case pattern. Cached per text like
        :meth:`candidates`, so a swap on a text seen before is only random draws.
        """
        found = self._slots.get(text)
        if found is None:
            spans, eligible = self._candidates(text)  # not via candidates(): one cached form per text
            slots = []
            for i, reps, pattern in eligible:
                start, end = spans[i]
                cased = reps if pattern == "lower" else tuple(_apply_case(r, pattern) for r in reps)
                slots.append((start, end, text[start:end], cased))
            if len(self._slots) >= self.TEXT_CACHE:
                self._slots.clear()
            found = self._slots[text] = (len(spans), tuple(slots))
        return found

    def _candidates(self, text: str) -> tuple[list[tuple[int, int]], list[tuple[int, tuple[str, ...], str]]]:
        spans = word_spans(text)
        words = [text[s:e] for s, e in spans]
        tags: Sequence[str] | None = None
        tagger = self._tagger() if spans else None
        if tagger is not None:
            tags = tagger(words)
            if len(tags) != len(words):
                raise ValueError(f"the tagger returned {len(tags)} tags for {len(words)} words")
        eligible = []
        for i, ((start, _), w) in enumerate(zip(spans, words)):
            if not (w.isascii() and w.isalpha()) or len(w) < 2:
                continue
            lower = w.lower()
            if lower in self.stop_words or lower in self._protect_words:
                continue
            if self._protect_re is not None and self._protect_re.fullmatch(w):
                continue
            pattern = _case_pattern(w)
            if pattern == "mixed":
                continue
            if pattern == "title" and self.keep_proper_nouns and not _sentence_start(text, start):
                continue
            if tags is not None:
                context = f"tag:{tags[i]}"
            else:
                context = ""
                if i > 0 and text[spans[i - 1][1] : start].strip() == "":
                    prev = words[i - 1].lower()
                    context = "det" if prev in _DETERMINERS else "inf" if prev in _INFINITIVE else ""
            reps = self.replacements(lower, context)
            if reps:
                eligible.append((i, reps, pattern))
        return spans, eligible


class SynonymSwap(TextView):
    """Replace a fraction of the content words by WordNet synonyms, keeping grammar, spacing and case.

    Nouns get noun synonyms and verbs verb synonyms (by a tagger when available, else by the lexicon:
    lemminflect's inflection tables plus WordNet's tagged frequencies; ambiguous words are left alone).
    A synonym is inflected to the original's Penn tag ("agrees" -> "concurs", "dogs" -> plural) and only
    used when the lexicon confirms the inflected form carries that tag; case follows the original
    ("Quick" -> "Fast", "QUICK" -> "FAST"). Stop words, protected words and, by default, proper nouns
    (capitalised mid-sentence) are never swapped. Replacements are spliced in by character offsets.

    Args:
        p: fraction of the text's words to swap (rounded), clipped to ``[min_swaps, max_swaps]`` and to
            the number of swappable words.
        min_swaps: least number of swaps per text (when it has swappable words).
        max_swaps: most swaps per text (``None``: no cap).
        max_senses, multiword, stop_words, protect, keep_proper_nouns, tagger, min_pos_share: see
            :class:`SynonymFinder`.

    Raises:
        ValueError: on bad arguments. Calling on something else than a ``str`` / ``list[str]`` raises
            ``TypeError``; an empty or word-less string comes back unchanged. WordNet missing raises
            :class:`~pairs.views.text_lexicon.WordNetNotFoundError` naming the fix.

    Shape:
        ``str -> str``; ``list[str] (B) -> list[str] (B)``. Parameters: ``{"edits": B lists of Edit}``.

    Reference:
        Wei & Zou 2019 (EDA's synonym replacement); Miller 1995 (WordNet).
    """

    def __init__(
        self,
        p: float = 0.2,
        min_swaps: int = 1,
        max_swaps: int | None = None,
        max_senses: int | None = 3,
        multiword: bool = False,
        stop_words: Iterable[str] | None = None,
        protect: Iterable[str] | str | re.Pattern | None = None,
        keep_proper_nouns: bool = True,
        tagger: str | Tagger = "auto",
        min_pos_share: float = 0.75,
    ) -> None:
        self.p = probability("p", p)
        self.min_swaps = _check_count(min_swaps, "min_swaps")
        self.max_swaps = _check_count(max_swaps, "max_swaps", allow_none=True)
        if self.max_swaps is not None and self.max_swaps < self.min_swaps:
            raise ValueError(f"max_swaps ({max_swaps}) must be >= min_swaps ({min_swaps})")
        self.finder = SynonymFinder(
            max_senses, multiword, stop_words, protect, keep_proper_nouns, tagger, min_pos_share
        )
        self.max_senses, self.multiword, self.protect = max_senses, multiword, protect
        self.keep_proper_nouns, self.tagger = keep_proper_nouns, tagger

    def edits_for(self, text: str, rng: random.Random) -> list[Edit]:
        n_words, slots = self.finder.slots(text)
        m = len(slots)
        if not m:
            return []
        k = max(self.min_swaps, round(self.p * n_words))
        if self.max_swaps is not None:
            k = min(k, self.max_swaps)
        uniform = rng.random
        picks: Sequence[tuple[int, int, str, tuple[str, ...]]]
        if k >= m:
            picks = slots
        else:  # k distinct positions out of m, by rejection (k is a small fraction of m or m is small)
            seen: set[int] = set()
            while len(seen) < k:
                seen.add(int(uniform() * m))
            picks = [slots[j] for j in sorted(seen)]
        return [
            _new_edit(Edit, (start, end, old, cased[int(uniform() * len(cased))]))
            for start, end, old, cased in picks
        ]


# --------------------------------------------------------------------------------------------------
# EDA and the other word-level views
# --------------------------------------------------------------------------------------------------
def _n_ops(alpha: float, n_words: int, minimum: int) -> int:
    return max(minimum, int(alpha * n_words)) if n_words else 0


class RandomInsertion(TextView):
    """EDA's random insertion: insert synonyms of random content words at random word positions.

    Args:
        alpha: number of insertions = ``max(min_ops, int(alpha * n_words))``.
        min_ops: least number of insertions (when the text has a word with synonyms).
        **synonym_options: options of :class:`SynonymFinder` (``max_senses``, ``multiword``, ...).

    Shape:
        ``str -> str``; ``list[str] -> list[str]``. Parameters: ``{"edits": B lists of Edit}`` (insertions
        are empty-span edits).

    Reference:
        Wei & Zou 2019, "EDA".
    """

    def __init__(self, alpha: float = 0.1, min_ops: int = 1, **synonym_options: Any) -> None:
        self.alpha = probability("alpha", alpha)
        self.min_ops = _check_count(min_ops, "min_ops")
        self.finder = SynonymFinder(**synonym_options)

    def edits_for(self, text: str, rng: random.Random) -> list[Edit]:
        spans, eligible = self.finder.candidates(text)
        if not eligible:
            return []
        n = _n_ops(self.alpha, len(spans), self.min_ops)
        inserts: dict[int, list[str]] = {}
        for _ in range(n):
            _, reps, _ = rng.choice(eligible)
            inserts.setdefault(rng.randrange(len(spans) + 1), []).append(rng.choice(reps))
        edits = []
        for pos, words in sorted(inserts.items()):
            if pos < len(spans):
                at = spans[pos][0]
                edits.append(Edit(at, at, "", " ".join(words) + " "))
            else:
                at = spans[-1][1]
                edits.append(Edit(at, at, "", " " + " ".join(words)))
        return edits


class RandomSwap(TextView):
    """EDA's random swap: exchange the positions of two random words, ``n`` times.

    Only the words move; punctuation and spacing stay where they were.

    Args:
        alpha: number of swaps = ``max(min_ops, int(alpha * n_words))``.
        min_ops: least number of swaps (texts with two words or more).

    Shape:
        ``str -> str``; ``list[str] -> list[str]``.

    Reference:
        Wei & Zou 2019, "EDA".
    """

    def __init__(self, alpha: float = 0.1, min_ops: int = 1) -> None:
        self.alpha = probability("alpha", alpha)
        self.min_ops = _check_count(min_ops, "min_ops")

    def edits_for(self, text: str, rng: random.Random) -> list[Edit]:
        spans = word_spans(text)
        if len(spans) < 2:
            return []
        order = list(range(len(spans)))
        for _ in range(_n_ops(self.alpha, len(spans), self.min_ops)):
            i, j = rng.sample(range(len(spans)), 2)
            order[i], order[j] = order[j], order[i]
        return [
            Edit(s, e, text[s:e], text[spans[k][0] : spans[k][1]])
            for (s, e), k in zip(spans, order)
            if text[s:e] != text[spans[k][0] : spans[k][1]]
        ]


def _deletion_edit(text: str, spans: list[tuple[int, int]], i: int) -> Edit:
    """Remove word ``i`` with the whitespace after it (or before it, for the last word)."""
    start, end = spans[i]
    stop = end
    while stop < len(text) and text[stop] in " \t":
        stop += 1
    if stop == end and i == len(spans) - 1:
        while start > 0 and text[start - 1] in " \t":
            start -= 1
    return Edit(start, stop, text[start:stop], "")


class RandomDeletion(TextView):
    """EDA's random deletion: drop each word with probability ``p`` (one word always survives).

    Args:
        p: deletion probability per word.

    Shape:
        ``str -> str``; ``list[str] -> list[str]``.

    Reference:
        Wei & Zou 2019, "EDA".
    """

    def __init__(self, p: float = 0.1) -> None:
        self.p = probability("p", p)

    def edits_for(self, text: str, rng: random.Random) -> list[Edit]:
        spans = word_spans(text)
        if len(spans) < 2:
            return []
        drop = [rng.random() < self.p for _ in spans]
        if all(drop):
            drop[rng.randrange(len(spans))] = False
        edits: list[Edit] = []
        for i in range(len(spans)):
            if drop[i]:
                edit = _deletion_edit(text, spans, i)
                if (
                    edits and edit.start < edits[-1].end
                ):  # last word's leading blank touches the previous edit
                    edit = Edit(edits[-1].end, edit.end, text[edits[-1].end : edit.end], "")
                edits.append(edit)
        return edits


class WordDropout(TextView):
    """Replace each word, with probability ``p``, by ``replacement`` (the encoders' unknown token).

    Args:
        p: dropout probability per word.
        replacement: the token put in place of a dropped word (default ``"<unk>"``, which
            :class:`encoders.text.Vocabulary` maps to its unknown id).

    Shape:
        ``str -> str``; ``list[str] -> list[str]``.

    Reference:
        Iyyer et al. 2015, "Deep Unordered Composition Rivals Syntactic Methods for Text Classification"
        (word dropout).
    """

    def __init__(self, p: float = 0.1, replacement: str = "<unk>") -> None:
        self.p = probability("p", p)
        if not isinstance(replacement, str):
            raise TypeError(f"replacement must be a str, got {type(replacement).__name__}")
        self.replacement = replacement

    def edits_for(self, text: str, rng: random.Random) -> list[Edit]:
        return [Edit(s, e, text[s:e], self.replacement) for s, e in word_spans(text) if rng.random() < self.p]


class SpanCrop(TextView):
    """Keep a contiguous run of words whose length is a random ratio of the text's word count.

    The crop starts at its first word and ends after its last word and any punctuation attached to it.
    Parameters are the crop's ``(start, end)`` character offsets in the original string.

    Args:
        ratio: fraction of the words to keep: a number, or a range ``(low, high)`` drawn uniformly per
            example, in (0, 1].
        min_words: keep at least this many words (when the text has them).

    Shape:
        ``str -> str``; ``list[str] -> list[str]``. Parameters: ``{"spans": B (start, end) tuples}``.

    Reference:
        Giorgi et al. 2021, "DeCLUTR" (span sampling as text views); Wu et al. 2020, "CLEAR" (span crops).
    """

    def __init__(self, ratio: float | tuple[float, float] = (0.5, 1.0), min_words: int = 1) -> None:
        low, high = (ratio, ratio) if isinstance(ratio, (int, float)) else tuple(ratio)
        if not 0.0 < float(low) <= float(high) <= 1.0:
            raise ValueError(f"ratio must be in (0, 1] (a number or a (low, high) range), got {ratio!r}")
        self.ratio = ratio
        self._range = (float(low), float(high))
        self.min_words = _check_count(min_words, "min_words")

    def span_for(self, text: str, rng: random.Random) -> tuple[int, int]:
        """The crop's ``(start, end)`` in ``text``."""
        spans = word_spans(text)
        if not spans:
            return 0, len(text)
        low, high = self._range
        r = low + (high - low) * rng.random()
        k = min(len(spans), max(self.min_words, 1, round(r * len(spans))))
        first = rng.randrange(len(spans) - k + 1)
        start, end = spans[first][0], spans[first + k - 1][1]
        while end < len(text) and not text[end].isspace() and not text[end].isalnum():
            end += 1
        return start, end

    def sample(self, batch: list[str], generator: torch.Generator) -> Params:
        rng = _batch_rng(generator)
        return {"spans": [self.span_for(text, rng) for text in batch]}

    def forward(self, batch: list[str], generator: torch.Generator) -> tuple[list[str], Params]:
        params = self.sample(batch, generator)
        return self.apply(batch, params), params

    def apply(self, batch: list[str], params: Params) -> list[str]:
        spans = params["spans"]
        if len(spans) != len(batch):
            raise ValueError(
                f"SpanCrop: parameters hold spans for {len(spans)} texts but the batch has {len(batch)}"
            )
        out = []
        for text, (start, end) in zip(batch, spans):
            if not 0 <= start <= end <= len(text):
                raise ValueError(f"SpanCrop: span ({start}, {end}) does not fit a text of length {len(text)}")
            out.append(text[start:end])
        return out


# --------------------------------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------------------------------
def eda_view(alpha: float = 0.1, **synonym_options: Any) -> View:
    """EDA: per example, one of synonym replacement, random insertion, random swap, random deletion.

    Args:
        alpha: EDA's strength (fraction of words changed, deletion probability).
        **synonym_options: options of :class:`SynonymFinder` for the two synonym operations.

    Returns:
        A :class:`~pairs.views.base.OneOf` view.

    Reference:
        Wei & Zou 2019, "EDA".
    """
    return OneOf(
        [
            SynonymSwap(p=alpha, **synonym_options),
            RandomInsertion(alpha, **synonym_options),
            RandomSwap(alpha),
            RandomDeletion(alpha),
        ]
    )


def synonym_crop_view(
    p: float = 0.2, crop: float | tuple[float, float] = (0.6, 1.0), **synonym_options: Any
) -> View:
    """Synonym swap followed by a span crop: the default contrastive view for sentences.

    Args:
        p: fraction of words swapped for synonyms.
        crop: fraction of words kept by the crop (number or range).
        **synonym_options: options of :class:`SynonymSwap`.

    Returns:
        A :class:`~pairs.views.base.Compose` view.
    """
    return Compose([SynonymSwap(p=p, **synonym_options), SpanCrop(crop)])
