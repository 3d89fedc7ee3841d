"""Text encoders: tokenising, vocabularies, padding, BiGRU / Transformer shapes, masking and the registry."""

from __future__ import annotations

import zlib

import pytest
import torch

import encoders
from encoders.text import (
    BiGRUEncoder,
    HashingVocabulary,
    TokenBatch,
    TransformerTextEncoder,
    Vocabulary,
    collate_text,
    tokenize,
)

CORPUS = ["The cat sat.", "the dog sat!", "A cat, a dog; don't stop"]


def test_tokenize_keeps_contractions_and_special_tokens():
    assert tokenize("Don't STOP, <unk> now!") == ["don't", "stop", ",", "<unk>", "now", "!"]
    with pytest.raises(TypeError, match="str"):
        tokenize(None)


def test_vocabulary_is_deterministic_with_specials_first():
    vocab = Vocabulary.build(CORPUS)
    assert vocab.tokens[:2] == ["<pad>", "<unk>"]
    # most frequent first, ties alphabetical: the/cat/sat/a/dog all twice
    assert vocab.tokens[2:7] == ["a", "cat", "dog", "sat", "the"]
    assert Vocabulary.build(list(reversed(CORPUS))).tokens == vocab.tokens
    assert vocab.encode("the zebra") == [vocab.index["the"], vocab.unk_id]
    assert len(Vocabulary.build(CORPUS, min_freq=2)) == 2 + 5
    assert Vocabulary(vocab.tokens).tokens == vocab.tokens  # a checkpoint's token list rebuilds it


def test_hashing_vocabulary_uses_crc32():
    h = HashingVocabulary(100)
    assert h.encode("cat <unk>") == [2 + zlib.crc32(b"cat") % 98, 1]


def test_collate_pads_and_keeps_lengths():
    vocab = Vocabulary.build(CORPUS)
    batch = collate_text(["the cat", "", "a dog sat ."], vocab)
    assert batch.ids.shape == (3, 4) and batch.lengths.tolist() == [2, 1, 4]
    assert batch.ids[0, 2:].tolist() == [0, 0] and batch.ids[1, 0].item() == vocab.unk_id
    assert batch.mask.sum().item() == 7
    assert isinstance(batch.to("cpu"), TokenBatch)
    with pytest.raises(TypeError, match="item 1"):
        collate_text(["a", 3], vocab)
    with pytest.raises(ValueError, match="empty"):
        collate_text([], vocab)


@pytest.mark.parametrize("cls", [BiGRUEncoder, TransformerTextEncoder])
def test_padding_does_not_change_an_embedding(cls):
    """Reference: a text encoded alone equals the same text encoded next to a longer one."""
    torch.manual_seed(0)
    vocab = Vocabulary.build(CORPUS)
    enc = cls(vocab.tokens).eval()
    alone = enc(["the cat sat"])
    padded = enc(["the cat sat", "a cat , a dog ; don't stop the dog"])
    assert alone.shape == (1, enc.out_dim)
    torch.testing.assert_close(padded[:1], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["text_bigru", "text_transformer"])
def test_registry_gradients_and_max_len(name):
    vocab = Vocabulary.build(CORPUS)
    enc = encoders.get(name, vocab=vocab.tokens, max_len=3)
    out = enc(CORPUS)
    assert out.shape == (3, enc.out_dim)
    out.sum().backward()
    assert enc.embed.weight.grad is not None and enc.embed.weight.grad.abs().sum() > 0
    assert enc.token_batch(CORPUS).ids.shape[1] == 3
    hashed = encoders.get(name)  # no vocabulary: hashing trick
    assert hashed(["anything at all"]).shape == (1, hashed.out_dim)
    with pytest.raises(TypeError, match="one str"):
        enc("a single string")
    with pytest.raises(TypeError, match="item 0"):
        enc([None])


def test_state_dict_round_trip():
    vocab = Vocabulary.build(CORPUS)
    a = BiGRUEncoder(vocab.tokens, hidden_dim=8, embed_dim=8).eval()
    b = BiGRUEncoder(list(vocab.tokens), hidden_dim=8, embed_dim=8).eval()
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a(CORPUS), b(CORPUS))
