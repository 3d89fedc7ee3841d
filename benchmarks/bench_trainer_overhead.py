"""Trainer overhead: our Trainer vs a minimal hand-written loop, same model, data, views and optimizer.

Both run SimCLR (small CNN, NT-Xent) on sklearn's digits with the digits views, batch 256, AdamW with the
same warm-up + cosine schedule. The Trainer also writes a checkpoint every epoch, logs JSONL metrics, runs
the collapse monitor and updates a progress bar (hidden here: tqdm writes to a closed stream otherwise).
Runs alternate (ours, hand, ours, hand, ...) and the median steps/s of each is compared.
Target (issue 2): Trainer steps/s >= 0.9 x the hand-written loop's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report_ratio  # noqa: E402

import encoders  # noqa: E402
from pairs.data import load_data  # noqa: E402
from pairs.domains.image import small_image_view  # noqa: E402
from pairs.methods import SimCLR  # noqa: E402
from pairs.pairing import ViewLoader  # noqa: E402
from pairs.train import TrainConfig, Trainer, warmup_cosine  # noqa: E402


def build(seed: int = 0) -> SimCLR:
    torch.manual_seed(seed)
    return SimCLR(encoders.get("small_cnn", in_channels=1, width=32), temperature=0.2)


def loader(x: torch.Tensor) -> ViewLoader:
    return ViewLoader(x, small_image_view(8), n_views=2, batch_size=256, seed=0)


def run_trainer(x: torch.Tensor, epochs: int) -> float:
    method = build()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            epochs=epochs,
            lr=2e-3,
            warmup_epochs=1,
            progress=True,
            out_dir=f"{tmp}/run",
            device="cpu",
            monitor_every=50,
            log_every=10,
        )
        start = time.perf_counter()
        result = Trainer(method, cfg).fit(loader(x))
        seconds = time.perf_counter() - start
    return result.global_step / seconds


def run_hand_written(x: torch.Tensor, epochs: int) -> float:
    method = build()
    data = loader(x)
    decay = [p for p in method.parameters() if p.ndim > 1]
    no_decay = [p for p in method.parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 1e-4}, {"params": no_decay, "weight_decay": 0.0}], lr=2e-3
    )
    total = len(data) * epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, total, len(data)))
    steps = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        data.set_epoch(epoch)
        method.train()
        for batch in data:
            loss = method(batch)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            steps += 1
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    epochs = 3 if args.quick else 8
    repeats = 2 if args.quick else args.repeats
    x = load_data("digits").train
    ours, hand = [], []
    run_hand_written(x, 1)  # warm-up
    for _ in range(repeats):
        ours.append(run_trainer(x, epochs))
        hand.append(run_hand_written(x, epochs))
    o, h = statistics.median(ours), statistics.median(hand)
    print(f"Trainer      : {o:.2f} steps/s  (runs: {', '.join(f'{v:.2f}' for v in ours)})")
    print(f"hand-written : {h:.2f} steps/s  (runs: {', '.join(f'{v:.2f}' for v in hand)})")
    print(f"ratio        : {o / h:.3f} (target >= 0.9)")
    report_ratio(
        "trainer_overhead",
        f"SimCLR digits, {epochs} epochs x {len(loader(x))} steps",
        o,
        h,
        "steps/s",
        digits=3,
        target=0.9,
    )


if __name__ == "__main__":
    main()
