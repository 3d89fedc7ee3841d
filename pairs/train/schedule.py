"""Learning-rate schedule: linear warm-up then cosine decay, per optimizer step.

Reference: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017 (cosine);
Goyal et al., "Accurate, Large Minibatch SGD", 2017 (linear warm-up).
"""

from __future__ import annotations

import math


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based).

    Rises linearly from ``1 / (warmup_steps + 1)`` to 1 over ``warmup_steps`` steps, then follows a half
    cosine from 1 down to ``min_ratio`` at ``total_steps``.

    Args:
        step: the optimizer step.
        total_steps: steps of the whole run (>= 1).
        warmup_steps: steps of linear warm-up (>= 0).
        min_ratio: final multiplier in [0, 1].

    Returns:
        The multiplier, in ``[min_ratio, 1]`` after warm-up.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    if not 0.0 <= min_ratio <= 1.0:
        raise ValueError(f"min_ratio must be in [0, 1], got {min_ratio}")
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
