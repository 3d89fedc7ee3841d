"""WebDataset shards: ``pairs pack`` + ``wds:`` round trips, safe decoding, and the per-rank epoch plan.

The distributed test launches ``torchrun`` with two gloo processes that stream the same shards and checks
that each sample is seen exactly once per epoch across ranks, with the same number of steps on each.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from pairs.cli import main
from pairs.data import load_data
from pairs.data.shards import ShardLoader, ShardSource, decode_sample, epoch_plan, pack
from pairs.errors import DataError
from tests.helpers import AddNoise, error_line, free_port, last_json


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, str):
        return a == b
    keys = set(a.keys())
    return keys == set(b.keys()) and all(_same(a[k], b[k]) for k in keys) and a.num_nodes == b.num_nodes


def _assert_round_trip(spec: str, out: Path, shard_size: int) -> None:
    source = load_data(spec)
    meta = pack(spec, out, shard_size=shard_size)
    back = load_data(f"wds:{out}")
    assert back.domain == source.domain and meta["domain"] == source.domain
    for split in ("train", "test"):
        a, b = getattr(source, split), getattr(back, split)
        if a is None:
            assert b is None
            continue
        assert len(a) == len(b) == meta["splits"][split]["n"]
        assert all(_same(a[i], b[i]) for i in range(len(a))), split
        la, lb = getattr(source, f"{split}_labels"), getattr(back, f"{split}_labels")
        assert (la is None and lb is None) or torch.equal(la, lb)
    counts = [s["n"] for s in meta["splits"]["train"]["shards"]]
    assert sum(counts) == len(source.train) and max(counts) == min(shard_size, len(source.train))
    assert back.shards.counts == counts


@pytest.mark.parametrize("spec", ["digits", "tu:MUTAG", "text:polarity", "ucr:GunPoint", "speech"])
def test_pack_then_wds_gives_the_same_samples(tmp_path, spec):
    _assert_round_trip(spec, tmp_path / "shards", shard_size=64)


def test_lazy_sources_round_trip_with_their_ids(tmp_path):
    from tests.data.test_graph_formats import _molecule_csv

    csv = _molecule_csv(tmp_path / "mols.csv", grow=2)
    spec = f"smiles:{csv}@label=target"
    _assert_round_trip(spec, tmp_path / "shards", shard_size=5)
    train = load_data(spec).train
    back = ShardSource(sorted((tmp_path / "shards").glob("train-*.tar")), "graph")
    assert [back.item_id(i) for i in range(len(back))] == [train.item_id(i) for i in range(len(train))]
    assert back.item_id(3) == f"{csv.resolve()}:{int(train.indices[3])}"  # 0-based data row of the CSV


def test_pairs_pack_cli_and_brace_patterns(tmp_path, capsys):
    out = tmp_path / "digits"
    assert (
        main(
            ["pack", "--data", "digits", "--out", str(out), "--shard-size", "500", "--no-progress", "--json"]
        )
        == 0
    )
    report = last_json(capsys.readouterr().out)
    assert report["splits"]["train"]["n"] == 1347 and len(report["splits"]["train"]["shards"]) == 3
    names = sorted(p.name for p in out.glob("*.tar"))
    assert names == ["test-000000.tar", "train-000000.tar", "train-000001.tar", "train-000002.tar"]
    bundle = load_data(f"wds:{out}/train-{{000000..000001}}.tar")  # two of the three shards
    assert len(bundle.train) == 1000 and bundle.test is None and bundle.domain == "image"
    assert torch.equal(bundle.train[999], load_data("digits").train[999])
    (out / "meta.json").unlink()  # shards written by another tool: the domain must be named
    with pytest.raises(DataError, match="@domain=NAME"):
        load_data(f"wds:{out}/train-000000.tar")
    assert len(load_data(f"wds:{out}/train-000000.tar@domain=image").train) == 500
    assert main(["pack", "--data", "digits", "--out", str(out), "--no-progress"]) == 2
    assert "already holds shards" in error_line(capsys)
    with pytest.raises(DataError, match="only local shard files"):
        load_data("wds:pipe:curl http://example.invalid/x.tar")


class _Marker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_shard_members_are_never_unpickled(tmp_path):
    marker = tmp_path / "code-ran"
    bad = io.BytesIO()
    np.save(bad, np.array([_Marker(str(marker))], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot decode the .npy member"):
        decode_sample("image", {"npy": bad.getvalue()}, "crafted.tar")
    shard = tmp_path / "evil-000000.tar"
    with tarfile.open(shard, "w") as tar:
        for name, payload in (
            ("s0.pyd", b"\x80\x04..."),  # a pickle member: never read
            ("s0.npy", bad.getvalue()),
            ("s0.cls", b"1"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(DataError, match="Object arrays cannot be loaded"):
        ShardSource([shard], "image")[0]  # indexing reads the first sample for its shape: refused there
    assert not marker.exists()


# --------------------------------------------------------------------------------------------------
# The epoch plan and the loader
# --------------------------------------------------------------------------------------------------
def test_epoch_plan_gives_equal_contiguous_ranges():
    counts = [7, 5, 9, 3]  # 24 samples
    for epoch in range(3):
        plans = [epoch_plan(counts, 8, 2, r, seed=1, epoch=epoch, shuffle=True) for r in range(2)]
        assert plans[0][0] == plans[1][0] and sorted(plans[0][0]) == [0, 1, 2, 3]
        assert [(p[1], p[2], p[3]) for p in plans] == [(0, 12, 3), (12, 24, 3)]
    orders = {tuple(epoch_plan(counts, 8, 2, 0, 1, e, True)[0]) for e in range(6)}
    assert len(orders) > 1  # the shard order changes with the epoch
    assert epoch_plan([10, 10, 5], 4, 2, 1, 0, 0, False)[1:] == (12, 24, 6)  # 25 // 4 = 6 steps, 1 dropped


def _pack_blobs(out: Path, n: int, shard_size: int = 10) -> ShardSource:
    from pairs.data.registry import DataBundle

    x = torch.arange(n * 4, dtype=torch.float32).reshape(n, 1, 2, 2)
    bundle = DataBundle("blobs", "image", x, torch.arange(n) % 3, None, None, {})
    pack(bundle, out, shard_size=shard_size)
    return ShardSource(sorted(out.glob("train-*.tar")), "image")


def _seen(loader: ShardLoader, epoch: int) -> list[list[int]]:
    loader.set_epoch(epoch)
    out = []
    for batch in loader:
        assert len(batch.index) == loader.local_batch
        # the sample tensors hold their own position: x[i] = 4i .. 4i+3 (the view adds bounded noise)
        out.append(batch.index.tolist())
    return out


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_ranks_see_each_sample_once_per_epoch(tmp_path, workers):
    source = _pack_blobs(tmp_path / "s", 48)
    loaders = [
        ShardLoader(source, AddNoise(0.0), batch_size=8, seed=3, shuffle_buffer=7, workers=workers,
                    labels=True, rank=r, world_size=2)
        for r in range(2)
    ]  # fmt: skip
    assert len(loaders[0]) == len(loaders[1]) == 6
    orders = []
    for epoch in range(2):
        seen = [_seen(loader, epoch) for loader in loaders]
        assert len(seen[0]) == len(seen[1]) == 6  # same number of steps on every rank
        flat = [p for rank in seen for step in rank for p in step]
        assert sorted(flat) == list(range(48))  # every sample exactly once across ranks
        orders.append(flat)
    assert orders[0] != orders[1]  # a new shuffle each epoch
    batch = next(iter(loaders[0]))
    expected = torch.stack([source[int(p)] for p in batch.index])
    assert torch.equal(batch.views[0], expected)  # AddNoise(0): the views are the decoded samples
    assert torch.equal(batch.labels, batch.index % 3)


def test_loader_order_does_not_depend_on_workers(tmp_path):
    source = _pack_blobs(tmp_path / "s", 40)
    a = ShardLoader(source, AddNoise(0.1), batch_size=8, seed=5, workers=0, rank=0, world_size=1)
    b = ShardLoader(source, AddNoise(0.1), batch_size=8, seed=5, workers=2, rank=0, world_size=1)
    a.set_epoch(1)
    b.set_epoch(1)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x.index, y.index) and torch.equal(x.views[1], y.views[1])
    a.set_epoch(1, start_step=3)  # resuming inside an epoch skips the steps already taken
    assert [x.index.tolist() for x in a] == [x.index.tolist() for x in b][3:]


def test_train_on_wds_shards(tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "mutag"
    pack("tu:MUTAG", out, shard_size=40)
    run = str(tmp_path / "run")
    args = [
        "train",
        "--data",
        f"wds:{out}",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--out",
        run,
        "--no-progress",
    ]
    args.append("--json")
    assert main(args) == 0
    report = last_json(capsys.readouterr().out)
    assert report["data"] == f"wds:{out.resolve()}" and report["domain"] == "graph"
    assert report["steps"] == 150 // 32 and report["method"] == "graphcl"
    assert 0.5 < report["svm_acc"] <= 1.0


_TORCHRUN_SCRIPT = """
import json, os, sys
sys.path.insert(0, {root!r})
import torch
import torch.distributed as dist
from pairs.data import load_data
from pairs.data.shards import ShardLoader
from tests.helpers import AddNoise

torch.set_num_threads(1)
dist.init_process_group("gloo")  # rank, world size and rendezvous from torchrun's environment
source = load_data("wds:{folder}/shards").shards
loader = ShardLoader(source, AddNoise(0.0), batch_size=12, seed=11, shuffle_buffer=10, workers=0)
seen = {{}}
for epoch in range(2):
    loader.set_epoch(epoch)
    seen[epoch] = [batch.index.tolist() for batch in loader]
with open(os.path.join({folder!r}, "torchrun%d.json" % dist.get_rank()), "w") as f:
    json.dump(seen, f)
dist.destroy_process_group()
"""


def test_torchrun_two_processes_see_each_sample_once_per_epoch(tmp_path):
    import subprocess
    import sys

    _pack_blobs(tmp_path / "shards", 72, shard_size=10)  # 7 shards of 10 and one of 2
    script = tmp_path / "ranks.py"
    root = str(Path(__file__).resolve().parents[2])
    script.write_text(_TORCHRUN_SCRIPT.format(root=root, folder=str(tmp_path)))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(free_port()), str(script)]  # fmt: skip
    # the timeout is a hang guard for a gloo process that never exits, far above the seconds it needs
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = [json.loads((tmp_path / f"torchrun{r}.json").read_text()) for r in range(2)]
    for epoch in ("0", "1"):
        assert len(seen[0][epoch]) == len(seen[1][epoch]) == 72 // 12
        flat = [p for rank in seen for step in rank[epoch] for p in step]
        assert sorted(flat) == list(range(72))  # each sample exactly once per epoch across the 2 ranks
