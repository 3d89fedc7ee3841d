"""The trainer: one loop for every method and domain (AMP, accumulation, checkpoint/resume, DDP)."""

from pairs.train.checkpoint import load_checkpoint, save_checkpoint
from pairs.train.monitor import CollapseMonitor, CollapseReport
from pairs.train.schedule import warmup_cosine
from pairs.train.trainer import (
    RunDirectoryExists,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    TrainResult,
    resolve_device,
)

__all__ = [
    "CollapseMonitor",
    "CollapseReport",
    "RunDirectoryExists",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "load_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "warmup_cosine",
]
