"""SimCLR epoch on a folder of 64 px images: our loader vs lightly's pipeline, same encoder, batch, workers.

Both train the same SimCLR (``pairs.methods.SimCLR``: encoder, projection head, NT-Xent) with the same
optimizer, batch and 2 DataLoader workers on a generated folder of 64x64 PNGs (not shipped):

* **ours**: ``images:DIR@64`` as ``pairs train`` reads it: workers decode each file and cut the two random
  resized crops from it (:class:`~pairs.data.images.ImageFolderSource` with decode-time crops); the rest
  of the SimCLR view (flip, colour jitter, grayscale, blur) runs once per batch
  (:class:`~pairs.domains.image.DecodedCrops`): on the CPU in the worker that read the batch, on a GPU
  on the device;
* **lightly** (the tool users pick today): ``lightly.data.LightlyDataset`` over the folder with
  ``lightly.transforms.SimCLRTransform(input_size=64)``, every view made per sample with PIL/torchvision
  in the DataLoader workers.

Both train in one process with the allocator setting ``pairs.train.Trainer`` uses on the CPU
(:func:`pairs.memory.kept_freed_memory`: freed buffers are reused instead of page-faulted back in; lightly's
workers, forked from here, inherit it), with the same encoder code (``small_cnn`` runs colour batches in the
channels-last layout on the CPU, for both). Each epoch is timed whole (worker start included), epochs
alternate (ours, lightly, ...), and the median samples/s of each is compared. The share of our step time
the views take is printed too (their time on one batch, measured single-threaded in this process, times the
steps, over the epoch time). Target (issue 16): ours >= 1.5x lightly's samples/s. ``--ceiling`` also times
the model step alone on ready-made batches (the most either side can reach) and both loaders without a
model. The default encoder is a light one (``small_cnn`` of width
16), so that the figure measures the data path rather than the convolutions; ``--encoder resnet18`` on a
GPU is the heavier setting. ``--quick``: a smaller folder and fewer epochs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report_ratio  # noqa: E402

import encoders  # noqa: E402
from pairs.data import load_data  # noqa: E402
from pairs.domains.image import crops_at_decode  # noqa: E402
from pairs.memory import kept_freed_memory  # noqa: E402
from pairs.methods import SimCLR  # noqa: E402
from pairs.pairing import ViewBatch, ViewLoader  # noqa: E402
from pairs.views import image as iv  # noqa: E402


def make_folder(root: Path, n: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    for k in range(4):
        (root / f"c{k}").mkdir(parents=True)
    for i in range(n):
        k = i % 4
        phase = rng.uniform(0, 6.28)
        pattern = 60 * np.sin(xx / (3 + k) + phase)[..., None] * np.cos(yy / 5 - phase)[..., None]
        colour = np.array([60 * k, 200 - 40 * k, 120])
        arr = np.clip(colour + pattern + rng.normal(0, 8, (64, 64, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(root / f"c{k}" / f"{i:05d}.png")


def build(encoder: str, seed: int = 0, width: int = 16) -> tuple[SimCLR, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    kwargs = {"width": width} if encoder == "small_cnn" else {}
    model = SimCLR(encoders.get(encoder, in_channels=3, **kwargs), temperature=0.2)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-3)


def step(model: SimCLR, opt: torch.optim.Optimizer, batch: ViewBatch) -> None:
    loss = model(batch)["loss"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def epoch_ours(
    folder: Path, encoder: str, width: int, batch: int, workers: int, epoch: int
) -> tuple[float, float, int]:
    source = load_data(f"images:{folder}@64").train
    view, cropping = crops_at_decode(iv.simclr_view(64), 2, source)
    loader = ViewLoader(cropping, view, n_views=2, batch_size=batch, seed=0, workers=workers)
    loader.set_epoch(epoch)
    # the views of one batch, timed here (in training they run in the workers, beside the model step)
    crops = torch.stack([cropping.train_item(i, torch.Generator().manual_seed(i)) for i in range(batch)])
    view_times = []
    for k in range(3):
        t0 = time.perf_counter()
        view(crops, torch.Generator().manual_seed(k))
        view_times.append(time.perf_counter() - t0)
    model, opt = build(encoder, width=width)
    start = time.perf_counter()
    n = 0
    steps = 0
    for b in loader:
        step(model, opt, b)
        n += len(b)
        steps += 1
    return time.perf_counter() - start, statistics.median(view_times) * steps, n


def epoch_lightly(
    folder: Path, encoder: str, width: int, batch: int, workers: int, epoch: int
) -> tuple[float, int]:
    from lightly.data import LightlyDataset
    from lightly.transforms import SimCLRTransform

    data = LightlyDataset(input_dir=str(folder), transform=SimCLRTransform(input_size=64))
    g = torch.Generator().manual_seed(epoch)
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers, generator=g
    )
    model, opt = build(encoder, width=width)
    start = time.perf_counter()
    n = 0
    for (v1, v2), _, _ in loader:
        step(model, opt, ViewBatch([v1, v2], None, torch.arange(len(v1))))
        n += len(v1)
    return time.perf_counter() - start, n


def ceiling(encoder: str, width: int, batch: int, steps: int = 8) -> float:
    """Samples/s of the model step alone, on two ready-made batches of views (no loader)."""
    model, opt = build(encoder, width=width)
    g = torch.Generator().manual_seed(0)
    views = [torch.rand(batch, 3, 64, 64, generator=g) for _ in range(2)]
    b = ViewBatch(views, None, torch.arange(batch))
    step(model, opt, b)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step(model, opt, b)
        times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def loader_alone(folder: Path, batch: int, workers: int, which: str) -> float:
    """Samples/s of one side's loader without a model: every batch of views is made and received."""
    if which == "ours":
        source = load_data(f"images:{folder}@64").train
        view, cropping = crops_at_decode(iv.simclr_view(64), 2, source)
        loader = ViewLoader(cropping, view, n_views=2, batch_size=batch, seed=0, workers=workers)
    else:
        from lightly.data import LightlyDataset
        from lightly.transforms import SimCLRTransform

        data = LightlyDataset(input_dir=str(folder), transform=SimCLRTransform(input_size=64))
        loader = torch.utils.data.DataLoader(
            data, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers
        )
    start = time.perf_counter()
    n = 0
    for b in loader:
        n += len(b) if which == "ours" else len(b[0][0])
    return n / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--encoder", default="small_cnn", help="any image encoder of the registry")
    parser.add_argument(
        "--width", type=int, default=16, help="small_cnn width (a light encoder: the data path)"
    )
    parser.add_argument(
        "--ceiling", action="store_true", help="also time the model step alone and each loader alone"
    )
    args = parser.parse_args()
    n_images = 1024 if args.quick else args.images
    epochs = 1 if args.quick else args.epochs
    ours, theirs, view_share = [], [], []
    # both sides train in this process as pairs.Trainer trains on the CPU: freed buffers are kept for the
    # next step (pairs.memory); lightly's workers, forked from here, inherit it too
    with kept_freed_memory(), tempfile.TemporaryDirectory(prefix="pairs-throughput-") as tmp:
        folder = Path(tmp) / "imgs"
        make_folder(folder, n_images)
        for e in range(epochs):
            seconds, view_seconds, n = epoch_ours(
                folder, args.encoder, args.width, args.batch, args.workers, e
            )
            ours.append(n / seconds)
            view_share.append(view_seconds / seconds)
            seconds_l, n_l = epoch_lightly(folder, args.encoder, args.width, args.batch, args.workers, e)
            theirs.append(n_l / seconds_l)
            print(
                f"epoch {e + 1}: ours {ours[-1]:.0f} samples/s (views {100 * view_share[-1]:.0f}% of it), "
                f"lightly {theirs[-1]:.0f} samples/s",
                flush=True,
            )
            if args.ceiling:
                print(
                    f"  model step alone {ceiling(args.encoder, args.width, args.batch):.0f} samples/s; "
                    f"loaders alone: ours {loader_alone(folder, args.batch, args.workers, 'ours'):.0f}, "
                    f"lightly {loader_alone(folder, args.batch, args.workers, 'lightly'):.0f} samples/s",
                    flush=True,
                )
    a, b = statistics.median(ours), statistics.median(theirs)
    share = statistics.median(view_share)
    print(
        f"SimCLR epoch, {n_images} images 64 px, {args.encoder}, batch {args.batch}, {args.workers} workers: "
        f"ours {a:.0f} samples/s, lightly {b:.0f} samples/s, ratio {a / b:.2f} (target >= 1.5); "
        f"views {100 * share:.1f}% of our step time"
    )
    report_ratio(
        "image_throughput",
        f"simclr 64px {args.encoder} batch {args.batch} workers {args.workers}",
        a,
        b,
        "samples/s (anchor: lightly LightlyDataset + SimCLRTransform)",
        digits=1,
        target=1.5,
        view_share=round(share, 4),
        device="cpu",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
