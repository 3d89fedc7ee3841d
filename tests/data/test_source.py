"""The source interface: sources in the loader and in evaluation, and a resume inside an epoch."""

from __future__ import annotations

import pytest
import torch

from pairs.data import DataBundle
from pairs.data.source import (
    InMemorySource,
    Source,
    as_source,
    default_workers,
    item_ids,
    sample_shape,
    take,
    using_workers,
)
from pairs.errors import ConfigError, DataError
from pairs.eval import extract_features
from pairs.methods import SimCLR
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer, load_checkpoint
from tests.helpers import AddNoise, FlatEncoder, blobs


class Streamed(Source):
    """A streamed source over a tensor: items 'decoded' one at a time; training adds a seeded shift.

    ``calls`` counts decodes in this process, to show that workers did the reading.
    """

    domain = "series"

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None, jitter: float = 0.0) -> None:
        super().__init__()
        self.x, self.labels, self.jitter = x, y, jitter
        self.sample_shape = tuple(x.shape[1:])
        self.calls = 0

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        self.calls += 1
        return self.x[int(i)].clone()

    def item_id(self, i: int) -> str:
        return f"/data/x.npy:{int(i)}"

    def train_item(self, i: int, generator: torch.Generator) -> torch.Tensor:
        shift = torch.rand(1, generator=generator) * self.jitter
        return self[i] + shift


def _batches(loader: ViewLoader, epoch: int, start: int = 0) -> list:
    loader.set_epoch(epoch, start_step=start)
    return [(b.index.clone(), [v.clone() for v in b.views]) for b in loader]


def test_streamed_source_gives_the_batches_and_views_of_the_in_memory_tensor():
    x, _ = blobs(96)
    memory = ViewLoader(x, AddNoise(0.3), n_views=2, batch_size=16, seed=4)
    for workers in (0, 2):
        streamed = ViewLoader(Streamed(x), AddNoise(0.3), n_views=2, batch_size=16, seed=4, workers=workers)
        assert streamed.streamed and not memory.streamed
        for epoch in (0, 1):
            got, want = _batches(streamed, epoch), _batches(memory, epoch)
            assert len(got) == len(want) == 6
            for (i_got, v_got), (i_want, v_want) in zip(got, want):
                assert torch.equal(i_got, i_want)
                for a, b in zip(v_got, v_want):
                    assert torch.equal(a, b)
    # the epoch order differs between epochs (a permutation of (seed, epoch))
    assert not torch.equal(_batches(memory, 0)[0][0], _batches(memory, 1)[0][0])


def test_decode_randomness_depends_on_seed_epoch_and_item_not_on_workers():
    x, _ = blobs(64)
    source = Streamed(x, jitter=1.0)
    runs = [
        _batches(ViewLoader(source, AddNoise(0.0), n_views=1, batch_size=16, seed=1, workers=w), 2)
        for w in (0, 2)
    ]
    for (i0, v0), (i2, v2) in zip(*runs):
        assert torch.equal(i0, i2) and torch.equal(v0[0], v2[0])
    shifts = (runs[0][0][1][0] - x[runs[0][0][0]]).flatten(1)
    assert shifts.std(dim=1).max() < 1e-6  # one shift per item ...
    assert shifts[:, 0].unique().numel() == 16  # ... a different one for each item
    other = _batches(ViewLoader(source, AddNoise(0.0), n_views=1, batch_size=16, seed=1, workers=0), 3)
    assert not torch.allclose(
        other[0][1][0] - x[other[0][0]], shifts.view(16, 1, 8, 8)
    )  # new epoch, new draws


def test_workers_decode_the_items_not_the_training_process():
    x, _ = blobs(64)
    source = Streamed(x)
    list(ViewLoader(source, AddNoise(0.1), batch_size=16, seed=0, workers=2))
    assert source.calls == 0
    list(ViewLoader(source, AddNoise(0.1), batch_size=16, seed=0, workers=0))
    assert source.calls == 64


def test_start_step_continues_an_epoch_with_the_same_batches():
    x, _ = blobs(96)
    loader = ViewLoader(Streamed(x, jitter=0.5), AddNoise(0.3), n_views=2, batch_size=16, seed=7, workers=2)
    full = _batches(loader, 3)
    rest = _batches(loader, 3, start=4)
    assert len(rest) == 2
    for (i_a, v_a), (i_b, v_b) in zip(full[4:], rest):
        assert torch.equal(i_a, i_b) and all(torch.equal(a, b) for a, b in zip(v_a, v_b))
    assert len(_batches(loader, 3)) == 6  # the start applies to one iteration only
    with pytest.raises(ValueError, match="start_step"):
        loader.set_epoch(0, start_step=7)


def test_labels_follow_the_items():
    x, y = blobs(64)
    loader = ViewLoader(Streamed(x, y), AddNoise(0.1), labels=y, batch_size=16, seed=2, workers=0)
    for batch in loader:
        assert torch.equal(batch.labels, y[batch.index])


def _method(seed: int) -> SimCLR:
    torch.manual_seed(seed)
    return SimCLR(FlatEncoder(), projection_dim=8, hidden_dim=32, temperature=0.5)


class _StopAt:
    """Wrap a loader; raise KeyboardInterrupt when batch ``n`` of epoch ``epoch`` is about to be yielded."""

    def __init__(self, loader: ViewLoader, epoch: int, n: int) -> None:
        self.loader, self.stop_epoch, self.n = loader, epoch, n

    def __len__(self) -> int:
        return len(self.loader)

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        self.epoch = epoch
        self.loader.set_epoch(epoch, start_step)

    def __iter__(self):
        for k, batch in enumerate(self.loader):
            if self.epoch == self.stop_epoch and k == self.n:
                raise KeyboardInterrupt
            yield batch


def test_resume_inside_a_streamed_epoch_matches_the_unbroken_run(tmp_path):
    x, _ = blobs(96)

    def loader() -> ViewLoader:
        return ViewLoader(Streamed(x, jitter=0.2), AddNoise(0.3), n_views=2, batch_size=16, seed=3, workers=2)

    def cfg(out: str, **kw) -> TrainConfig:
        return TrainConfig(epochs=2, lr=1e-2, progress=False, seed=3, out_dir=str(tmp_path / out), **kw)

    unbroken = _method(0)
    Trainer(unbroken, cfg("a", checkpoint_steps=2)).fit(loader())
    broken = _method(0)
    with pytest.raises(KeyboardInterrupt):  # 6 steps per epoch: stopped in epoch 2 after 5 steps
        Trainer(broken, cfg("b", checkpoint_steps=2)).fit(_StopAt(loader(), 1, 5))
    state = load_checkpoint(tmp_path / "b")
    assert (state["epoch"], state["batches_done"], state["global_step"]) == (1, 4, 10)
    resumed = _method(123)  # everything must come from the checkpoint
    result = Trainer(resumed, cfg("b", resume=True, checkpoint_steps=2)).fit(loader())
    assert result.global_step == 12 and result.resumed_from_epoch == 1
    for (name, a), (_, b) in zip(unbroken.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    assert "batches_done" not in load_checkpoint(tmp_path / "b")  # the final checkpoint is an epoch end


def test_extract_features_reads_a_streamed_source_in_order():
    x, _ = blobs(70)
    encoder = FlatEncoder()
    want = extract_features(encoder, x, batch_size=16)
    for workers in (0, 2):
        got = extract_features(encoder, Streamed(x), batch_size=16, workers=workers, progress=False)
        assert torch.allclose(got, want, atol=1e-6)
    assert torch.allclose(extract_features(encoder, InMemorySource(x), batch_size=16), want)


def test_in_memory_source_and_helpers():
    x, y = blobs(20)
    source = InMemorySource(x, y, domain="series", name="blobs:train")
    assert source.in_memory and sample_shape(source) == (1, 8, 8) == sample_shape(x)
    assert source.item_id(3) == "blobs:train:3" and item_ids(["a", "b"], "t") == ["t:0", "t:1"]
    assert torch.equal(take(source, [4, 1]), x[[4, 1]])
    assert torch.equal(take(Streamed(x), [4, 1]), x[[4, 1]])
    assert as_source(source) is source and as_source(["a"], domain="text").take([0]) == ["a"]
    with pytest.raises(DataError, match="labels"):
        InMemorySource(x, y[:5])
    with pytest.raises(DataError, match="fixed shape"):
        sample_shape(["a", "b"])
    bundle = DataBundle("x", "series", Streamed(x, y), test=Streamed(x[:4], y[:4]))
    assert torch.equal(bundle.train_labels, y) and torch.equal(bundle.test_labels, y[:4]) and bundle.streamed
    # a memory loader given an in-memory source indexes its tensor directly
    assert not ViewLoader(source, AddNoise(0.1), batch_size=4).streamed


def test_workers_setting():
    with using_workers(3):
        assert default_workers() == 3
        with using_workers(0):
            assert default_workers() == 0
        assert default_workers() == 3
    assert default_workers() >= 0
    with pytest.raises(ConfigError, match="workers"):
        with using_workers(-1):
            pass
