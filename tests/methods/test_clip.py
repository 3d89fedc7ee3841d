"""CLIP two-tower training on paired samples of two domains, and zero-shot classification."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pairs.methods import build_method
from pairs.methods.clip import PairedViews, zero_shot_predict
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer
from tests.helpers import AddNoise, FlatEncoder, blobs

WORDS = ["zero", "one", "two"]


class WordEncoder(nn.Module):
    """Bag of words over a fixed vocabulary: a tiny text tower taking a list of strings."""

    def __init__(self, vocab: list[str], out_dim: int = 8) -> None:
        super().__init__()
        self.vocab = {w: i for i, w in enumerate(vocab)}
        self.embed = nn.EmbeddingBag(len(vocab) + 1, out_dim, mode="mean")
        self.out_dim = out_dim

    def forward(self, texts: list[str]) -> torch.Tensor:
        ids = [torch.tensor([self.vocab.get(w, len(self.vocab)) for w in t.split()]) for t in texts]
        offsets = torch.tensor([0] + [len(i) for i in ids[:-1]]).cumsum(0)
        return self.embed(torch.cat(ids), offsets)


def test_paired_views_split_pairs_and_reject_non_pairs():
    x, y = blobs(6)
    pairs = [(x[i], f"a {WORDS[int(y[i])]}") for i in range(6)]
    a, b = PairedViews(view_a=AddNoise(0.1))(pairs, torch.Generator().manual_seed(0))
    assert a.shape == (6, 1, 8, 8)
    assert b == [p[1] for p in pairs]
    with pytest.raises(TypeError, match="pairs"):
        PairedViews()(x)


def test_zero_shot_predict_picks_the_most_similar_prompt():
    prompts = torch.eye(3)
    a = torch.tensor([[0.1, 2.0, 0.0], [0.0, 0.1, 5.0]])
    assert zero_shot_predict(a, prompts).tolist() == [1, 2]
    with pytest.raises(ValueError, match="same D"):
        zero_shot_predict(a, torch.eye(4))


def test_two_tower_training_gives_zero_shot_accuracy():
    x, y = blobs(96)
    pairs = [(x[i], f"a blob {WORDS[int(y[i])]}") for i in range(96)]
    torch.manual_seed(0)
    method = build_method(
        "clip",
        FlatEncoder(),
        other_encoder=WordEncoder(["a", "blob", *WORDS]),
        projection_dim=8,
        hidden_dim=16,
    )
    loader = ViewLoader(pairs, PairedViews(view_a=AddNoise(0.2)), batch_size=32, seed=0)
    Trainer(method, TrainConfig(epochs=8, lr=1e-2, warmup_epochs=0, progress=False)).fit(loader)
    pred = method.zero_shot(x, [f"a blob {w}" for w in WORDS])
    assert (pred == y).float().mean() > 0.9
    assert method.training  # mode restored
    assert "criterion.log_scale" in method.state_dict()


def test_clip_without_second_encoder_copies_the_architecture_with_new_weights():
    torch.manual_seed(0)
    method = build_method("clip", FlatEncoder(), projection_dim=8, hidden_dim=16)
    assert type(method.other_encoder) is type(method.encoder)
    assert not torch.equal(method.other_encoder.net[1].weight, method.encoder.net[1].weight)
