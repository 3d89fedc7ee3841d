"""frozen(): eval mode, no gradients, device; the module's mode and device come back, also after an error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pairs.frozen import frozen


def test_eval_mode_and_no_grad_inside_mode_back_after():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5)).train()
    x = torch.randn(8, 3)
    with frozen(net):
        assert not net.training
        assert not net[1].training
        out = net(x)
        again = net(x)
    assert net.training
    assert net[1].training
    assert not out.requires_grad
    assert torch.equal(out, again)  # dropout off, batch norm on running statistics
    assert torch.equal(net[1].running_mean, torch.zeros(4))  # eval mode: statistics not updated


def test_mode_comes_back_after_an_error():
    net = nn.Linear(2, 2).train()
    with pytest.raises(RuntimeError, match="boom"), frozen(net):
        raise RuntimeError("boom")
    assert net.training
    net.eval()
    with frozen(net):
        pass
    assert not net.training  # an eval-mode module stays in eval mode


def test_device_moves_and_comes_back():
    moves = []

    class Recording(nn.Linear):
        def to(self, *args, **kwargs):
            moves.append(torch.device(args[0]))
            return super().to(*args, **kwargs)

    net = Recording(2, 2)
    with frozen(net, "cpu"):
        assert moves == [torch.device("cpu")]
    assert moves == [torch.device("cpu"), net.weight.device]  # moved there, then back where it was
    moves.clear()
    with frozen(net):
        pass
    assert moves == []  # no device given: not moved


def test_plain_callables_get_no_grad_only():
    w = torch.ones(2, requires_grad=True)
    with frozen(None):
        out = w * 2
    assert not out.requires_grad
