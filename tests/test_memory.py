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

_STEPS = """
import json, resource, torch
from pairs.memory import keep_freed_memory, kept_freed_memory

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()

def faults_per_step(steps=16):
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
"""

_SCENARIO = (
    _STEPS
    + """
out = {"before": faults_per_step()}
with kept_freed_memory() as kept:
    out["kept"] = kept
    out["inside"] = faults_per_step()
    with kept_freed_memory():  # re-entrant: the inner exit keeps the outer setting
        pass
    out["inner_exit"] = faults_per_step()
    out["rss_inside"] = rss_bytes()
out["rss_after"] = rss_bytes()
print(json.dumps(out))
"""
)

_FOR_GOOD = (
    _STEPS
    + """
out = {"before": faults_per_step()}
out["kept"] = keep_freed_memory()
out["after_call"] = faults_per_step()
with kept_freed_memory():  # its exit must not restore the defaults: the setting is for good
    pass
out["after_context"] = faults_per_step()
print(json.dumps(out))
"""
)


def _run(scenario: str) -> dict:
    """Run ``scenario`` in a fresh process, so that the heap holds nothing from other tests."""
    run = subprocess.run(
        [sys.executable, "-c", scenario], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_freed_buffers_are_reused_inside_and_returned_after():
    out = _run(_SCENARIO)
    pages = (64 << 20) // resource.getpagesize()  # one buffer's pages
    assert out["kept"]
    # glibc's default: buffers this large are mapped afresh, so every step faults its four buffers in
    assert sorted(out["before"][1:])[len(out["before"]) // 2] > 3 * pages
    # kept: the heap is reused. Which freed chunk a buffer lands in depends on the order the intra-op threads
    # free theirs, so now and then a step grows the heap by one buffer; over all steps after the first,
    # the faults are a small part of the default's (measured: 0 to 1/6 of them)
    default = sum(out["before"][1:])
    assert sum(out["inside"][1:]) < default / 4
    assert sum(out["inner_exit"]) < default / 4  # the inner exit left the outer setting in place
    # once the context ends, the freed buffers (at least four of them) go back to the system
    assert out["rss_inside"] - out["rss_after"] > 3 * (64 << 20)


def test_keep_freed_memory_keeps_them_for_the_rest_of_the_process():
    out = _run(_FOR_GOOD)
    assert out["kept"]
    default = sum(out["before"][1:])
    assert sorted(out["before"][1:])[len(out["before"]) // 2] > 3 * (64 << 20) // resource.getpagesize()
    assert sum(out["after_call"][1:]) < default / 4
    assert sum(out["after_context"]) < default / 4  # a context's exit left the setting in place


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
