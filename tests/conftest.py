"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run a test single-threaded: the tensors are tiny, and on a busy 2-core machine OpenMP threads
    waiting for each other make small ops 10-30x slower. The previous setting is restored.

    Use it for a whole module with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
