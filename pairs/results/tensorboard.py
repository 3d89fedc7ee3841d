"""TensorBoard output of a run (``--tensorboard``): the scalars of ``metrics.jsonl`` (written by the
trainer as it logs them) and, at the end, the held-out embeddings with their labels for the projector.

``metrics.jsonl`` stays the source of truth; the event files are a view of it. Needs the ``tensorboard``
package (``pip install tensorboard`` or ``pip install 'pairs[tensorboard]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pairs.errors import DependencyError

__all__ = ["open_writer", "write_projector", "TENSORBOARD_DIR"]

TENSORBOARD_DIR = "tensorboard"
MAX_PROJECTOR_POINTS = 5000


def open_writer(run_dir: str | Path) -> Any:
    """A ``torch.utils.tensorboard.SummaryWriter`` logging into ``<run_dir>/tensorboard``.

    Raises:
        DependencyError: when ``tensorboard`` is not installed.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise DependencyError(
            "--tensorboard needs the tensorboard package: pip install tensorboard "
            "(or pip install 'pairs[tensorboard]')"
        ) from err
    return SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR))


def write_projector(
    run_dir: str | Path, encoder: Any, bundle: Any, device: Any = "cpu", step: int = 0
) -> int:
    """Write the held-out embeddings (the test split, else the train split; at most 5,000) with their labels
    (class names when known) to TensorBoard's projector.

    Args:
        run_dir: the run directory.
        encoder: the trained encoder with a ``preprocess`` (:func:`pairs.results.load_encoder`) or a plain
            encoder taking the data's batches.
        bundle: the run's data.
        device: where the encoder runs.
        step: the global step the embeddings belong to.

    Returns:
        The number of embeddings written.
    """
    from pairs.domains import recipe_for
    from pairs.eval import extract_features

    held = bundle.test if bundle.test is not None else bundle.train
    labels = bundle.test_labels if bundle.test is not None else bundle.train_labels
    n = min(len(held), MAX_PROJECTOR_POINTS)
    from pairs.data.source import take

    samples = take(held, list(range(n)))
    transform = getattr(encoder, "preprocess", None)
    if transform is None:
        recipe = recipe_for(bundle)
        transform = recipe.collate
        if bundle.domain == "series":
            from pairs.domains.series import ts2vec_standardizer

            transform = ts2vec_standardizer(bundle)
    feats = extract_features(encoder, samples, device=device, transform=transform)
    metadata = None
    if labels is not None:
        classes = bundle.info.get("classes") or []
        metadata = [
            str(classes[int(y)]) if 0 <= int(y) < len(classes) else str(int(y)) for y in labels[:n].tolist()
        ]
    writer = open_writer(run_dir)
    try:
        writer.add_embedding(torch.as_tensor(feats), metadata=metadata, tag="held_out", global_step=step)
    finally:
        writer.close()
    return n
