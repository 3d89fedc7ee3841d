"""pairs.memory: freed tensor buffers are kept for reuse (no page faults) while training on the CPU."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pairs.memory import _libc

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or _libc() is None, reason="glibc's allocator only"
)

_SCENARIO = """
import json, resource, torch
from pairs.memory import kept_freed_memory

def faults_per_step(steps=8):
    # identical steps that make and free 64 MiB tensors (above the 32 MiB up to which glibc itself
    # learns to keep freed buffers)
    x = torch.rand(1 << 24, generator=torch.Generator().manual_seed(0))
    faults = []
    for _ in range(steps):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        y = x * 2.0
        z = y + x
        float(torch.relu(z - 1.0).sum())
        del y, z
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return faults

out = {"before": faults_per_step()}
with kept_freed_memory() as kept:
    out["kept"] = kept
    out["inside"] = faults_per_step()
    with kept_freed_memory():  # re-entrant: the inner exit keeps the outer setting
        pass
    out["inner_exit"] = faults_per_step()
out["after"] = faults_per_step()
print(json.dumps(out))
"""


def test_freed_buffers_are_reused_inside_and_returned_after():
    # in a fresh process, so that the heap holds nothing from other tests
    run = subprocess.run(
        [sys.executable, "-c", _SCENARIO], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    pages = (64 << 20) // resource.getpagesize()  # one buffer's pages
    assert out["kept"]
    assert min(out["before"][-3:]) > pages // 2  # glibc's default: buffers this large are mapped afresh
    # reused: no faults in the steady state (the median of the last steps: a step on another thread may
    # grow that thread's malloc arena once, which faults one buffer in)
    assert sorted(out["inside"][-3:])[1] < pages // 10
    assert sorted(out["inner_exit"][-3:])[1] < pages // 10
    assert min(out["after"][-3:]) > pages // 2  # the default again once the context ends


def test_trainer_keeps_freed_memory_while_it_trains_on_the_cpu(monkeypatch):
    import pairs.train.trainer as trainer_module
    from encoders.image import SmallCNN
    from pairs import SimCLR, TrainConfig, Trainer, ViewLoader
    from pairs.views import image as iv

    entered = []
    real = trainer_module.kept_freed_memory

    def spy():
        entered.append(True)
        return real()

    monkeypatch.setattr(trainer_module, "kept_freed_memory", spy)
    x = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    loader = ViewLoader(x, iv.HorizontalFlip(0.5), batch_size=8, seed=0)
    model = SimCLR(SmallCNN(in_channels=3, width=4))
    Trainer(model, TrainConfig(epochs=1, device="cpu", progress=False)).fit(loader)
    assert entered == [True]
