"""The one Trainer: every method, every domain.

Loop: for each epoch, ``loader.set_epoch(e)``; for each batch, ``method(batch)`` gives the loss; backward
(under AMP where the device supports it), gradient accumulation, clipping, optimizer step, per-step
warm-up + cosine learning rate, ``method.on_after_optimizer_step(progress)`` (momentum targets).
After every epoch (or every ``checkpoint_every`` epochs) a checkpoint is written atomically; ``resume=True``
continues from it exactly (the views and shuffles depend on ``(seed, epoch, step)`` only, and the global
torch RNG is re-seeded per epoch).
Divergence (NaN/inf produced by training: a non-finite loss, non-finite weights or optimizer state before a
checkpoint is written, or a layer that sees NaN/inf computed from finite input once training has updated the
weights) stops the run with :class:`~pairs.errors.TrainingDiverged`, writes a ``diverged`` event to
``metrics.jsonl`` and keeps the last finite checkpoint (the message says which epoch it holds). With
``overwrite=True`` the previous run's files are moved aside, not deleted, until the new run has written its
first checkpoint; if it fails before that, they are put back. A collapse
monitor logs the embedding std and effective rank and warns when they collapse. Metrics go to
``metrics.jsonl`` in the run directory. Under ``torchrun`` the method is wrapped in DDP.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import math
import os
import secrets
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from pairs.errors import CheckpointError, ConfigError, OutputError, PairsError, TrainingDiverged
from pairs.eval.metrics import check_positive_int
from pairs.memory import kept_freed_memory
from pairs.methods.base import Method
from pairs.train.checkpoint import (
    CHECKPOINT_NAME,
    load_checkpoint,
    non_finite_entries,
    remove_leftover_temporaries,
    save_checkpoint,
)
from pairs.train.distributed import (
    all_reduce_mean,
    barrier,
    convert_batchnorm,
    init_distributed,
    is_main_process,
)
from pairs.train.monitor import CollapseMonitor
from pairs.train.schedule import warmup_cosine
from pairs.views.base import derive_seed

RUN_FILES = (CHECKPOINT_NAME, "metrics.jsonl", "config.json", "result.json", "report.json", "report.png")
"""Files a run writes into its directory (``overwrite=True`` replaces exactly these)."""

REPLACED_PREFIX = ".replaced-run-"
"""With ``overwrite=True`` the old run's files wait in ``<run_dir>/.replaced-run-<random>/`` until the new
run has written its first checkpoint."""

logger = logging.getLogger("pairs")


class RunDirectoryExists(ConfigError):
    """The run directory already holds a run and neither ``resume`` nor ``overwrite`` was given."""


@dataclass
class TrainConfig:
    """Everything that shapes a training run (saved in the checkpoint and ``config.json``).

    Attributes:
        epochs: number of passes over the data.
        max_steps: stop after this many optimizer steps, inside an epoch if need be (``None``: ``epochs``
            whole epochs; otherwise the run ends at whichever limit comes first).
        lr: peak learning rate (after warm-up).
        optimizer: ``"adamw"``, ``"adam"`` or ``"sgd"`` (momentum 0.9, Nesterov off).
        weight_decay: decoupled (AdamW) or L2 (SGD) weight decay.
        decay_all_parameters: apply the weight decay to biases and normalisation scales as well (TS2Vec's
            plain AdamW does); by default parameters with at most one dimension are not decayed.
        momentum: SGD momentum.
        warmup_epochs: linear warm-up length in epochs (fractions allowed).
        min_lr_ratio: final learning rate as a fraction of ``lr`` (cosine floor).
        amp: ``"auto"`` (float16 autocast + gradient scaling on CUDA, off on CPU), ``"bf16"`` (bfloat16
            autocast, any device), ``"off"``.
        accumulate_steps: micro-batches per optimizer step. Note that for contrastive losses the negatives
            are those of each micro-batch: accumulation saves memory, it does not add negatives.
        grad_clip: clip the gradient norm to this value (``None``: no clipping).
        seed: seed of the shuffles, views and global RNG (model initialisation is the caller's).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        out_dir: run directory (``None``: keep nothing on disk).
        resume: continue the run saved in ``out_dir``.
        overwrite: replace a run saved in ``out_dir``.
        progress: show a tqdm progress bar.
        log_every: write a step line to ``metrics.jsonl`` every this many optimizer steps.
        monitor_every: run the collapse monitor every this many optimizer steps (and at every epoch end).
        checkpoint_every: write the checkpoint every this many epochs and after the last epoch (``--resume``
            continues from the last one written).
        checkpoint_steps: also write it every this many optimizer steps inside an epoch (``None``: only at
            epoch ends). A run resumed from such a checkpoint continues the epoch at the next batch, with
            the same order and views as an unbroken run (the loader's ``set_epoch(epoch, start_step)``)
            and the global RNG state it had; for long epochs over streamed data.
        tensorboard: also write every number of ``metrics.jsonl`` as a TensorBoard scalar (tag
            ``<event>/<name>``, e.g. ``step/loss``, ``epoch/loss``, at the global step) into
            ``<out_dir>/tensorboard`` (needs ``tensorboard``: ``pip install tensorboard``).
            ``metrics.jsonl`` stays the source of truth.
    """

    epochs: int = 100
    max_steps: int | None = None
    lr: float = 1e-3
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    decay_all_parameters: bool = False
    momentum: float = 0.9
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.0
    amp: str = "auto"
    accumulate_steps: int = 1
    grad_clip: float | None = None
    seed: int = 0
    device: str = "auto"
    out_dir: str | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    log_every: int = 10
    monitor_every: int = 50
    checkpoint_every: int = 1
    checkpoint_steps: int | None = None
    tensorboard: bool = False

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.max_steps is not None:
            check_positive_int(self.max_steps, "max_steps (optimizer steps, or None)")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr}")
        if self.optimizer not in ("adamw", "adam", "sgd"):
            raise ConfigError(f"optimizer must be one of adamw, adam, sgd; got {self.optimizer!r}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.warmup_epochs < 0:
            raise ConfigError(f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        if self.amp not in ("auto", "bf16", "off"):
            raise ConfigError(f"amp must be one of auto, bf16, off; got {self.amp!r}")
        check_positive_int(self.checkpoint_every, "checkpoint_every (epochs)")
        if self.checkpoint_steps is not None:
            check_positive_int(self.checkpoint_steps, "checkpoint_steps (optimizer steps, or None)")
        if self.accumulate_steps < 1:
            raise ConfigError(f"accumulate_steps must be >= 1, got {self.accumulate_steps}")
        if self.resume and self.overwrite:
            raise ConfigError("resume and overwrite exclude each other: pick one")
        if (self.resume or self.overwrite) and self.out_dir is None:
            raise ConfigError("resume/overwrite need a run directory (out_dir)")


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns."""

    epochs: int
    global_step: int
    train_seconds: float
    final_loss: float
    epoch_losses: list[float] = field(default_factory=list)
    run_dir: str | None = None
    checkpoint: str | None = None
    resumed_from_epoch: int = 0


def _last_epoch_loss(metrics: Path, default: float) -> float:
    """The loss of the last ``epoch`` event in a run's ``metrics.jsonl`` (``default`` when there is none)."""
    loss = default
    try:
        with metrics.open() as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("event") == "epoch" and isinstance(record.get("loss"), (int, float)):
                    loss = float(record["loss"])
    except OSError:
        return default
    return loss


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; validates explicit CUDA requests."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device 'cuda' was asked for but CUDA is not available here; use device 'cpu' or 'auto' "
            "(--device on the command line)"
        )
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"unsupported device {device!r}; use auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(
            f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s), "
            f"cuda:0 to cuda:{torch.cuda.device_count() - 1}"
        )
    return dev


@dataclass
class _Loop:
    """What one :meth:`Trainer.fit` works with: its step budget, the optimisation state, where it starts."""

    steps_per_epoch: int
    total_steps: int
    last_epoch: int
    params: list[nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    model: nn.Module  # the method, or its DDP wrapper under torchrun
    distributed: bool = False
    start_epoch: int = 0
    start_batch: int = 0  # micro-batches already done in start_epoch (resuming inside it)
    rng_state: Tensor | None = None
    loss_value: float = float("nan")  # the last micro-batch's loss


class Trainer:
    """Train a :class:`~pairs.methods.Method` on a loader of view batches.

    Args:
        method: the method (encoder + heads + loss).
        config: a :class:`TrainConfig` (keyword arguments override its fields).
        extra_state: plain data saved in every checkpoint (the CLI stores how to rebuild the model).
        callbacks: functions ``(trainer, epoch_record) -> None`` called after every epoch's checkpoint.

    Example:
        >>> trainer = Trainer(method, TrainConfig(epochs=10, out_dir="runs/a"))
        >>> result = trainer.fit(loader)
    """

    def __init__(
        self,
        method: Method,
        config: TrainConfig | None = None,
        *,
        extra_state: dict[str, Any] | None = None,
        callbacks: Iterable[Callable[[Trainer, dict[str, Any]], None]] = (),
        **overrides: Any,
    ) -> None:
        if not isinstance(method, nn.Module) or not hasattr(method, "encoder"):
            raise TypeError(
                f"Trainer needs a pairs Method (nn.Module with an encoder), got {type(method).__name__}"
            )
        unknown = [key for key in overrides if key not in {f.name for f in dataclasses.fields(TrainConfig)}]
        if unknown:
            raise TypeError(f"Trainer got an unknown setting {unknown[0]!r}")
        # a copy with the overrides: the caller's config is left as it was
        config = dataclasses.replace(config or TrainConfig(), **overrides)
        config.validate()
        self.config = config
        self.method = method
        self.extra_state = dict(extra_state or {})
        self.callbacks = list(callbacks)
        self.device = init_distributed(resolve_device(config.device))
        self.run_dir = Path(config.out_dir) if config.out_dir is not None else None
        self.monitor = CollapseMonitor(center=bool(getattr(method, "center_collapse_check", False)))
        self._resume_state: dict[str, Any] | None = None
        self.epoch = 0
        self.global_step = 0
        self._batches_done = 0  # micro-batches done in the current epoch (saved by mid-epoch checkpoints)
        self._restart_step = 0  # where the learning-rate schedule (re)starts: > 0 once a run was extended
        self._prepare_run_dir()

    # -- run directory ----------------------------------------------------------------------------------
    def _prepare_run_dir(self) -> None:
        """Check the run directory against ``resume``/``overwrite``; nothing on disk changes here."""
        self._replacing: list[str] = []
        self._saved_epoch: int | None = None  # what the checkpoint on disk holds, once there is one
        self._saved_step = 0
        self._saved_mid_epoch = False
        if self.run_dir is None:
            return
        if self.config.resume:  # every rank reads the checkpoint
            if not (self.run_dir / CHECKPOINT_NAME).exists():
                raise CheckpointError(
                    f"nothing to resume: {self.run_dir / CHECKPOINT_NAME} does not exist; "
                    "start a new run without --resume"
                )
            self._resume_state = self._load_compatible_checkpoint()
            self._saved_epoch = int(self._resume_state.get("epoch", 0))
            self._saved_step = int(self._resume_state.get("global_step", 0))
            self._saved_mid_epoch = bool(self._resume_state.get("batches_done", 0))
            return
        if not is_main_process():
            return
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise ConfigError(f"run directory {self.run_dir} exists and is a file; choose another --out")
        existing = [name for name in RUN_FILES if (self.run_dir / name).exists()]
        if existing or (self.run_dir.exists() and any(self.run_dir.iterdir())):
            if not self.config.overwrite:
                raise RunDirectoryExists(
                    f"run directory {self.run_dir} already exists; continue it (TrainConfig(resume=True), "
                    "pairs train --resume), replace it (overwrite=True, --overwrite), or choose another "
                    "out_dir (--out)"
                )
            self._replacing = existing

    def _open_run_dir(self) -> Path | None:
        """Create the run directory; move an old run's files aside (``overwrite``) and drop temporary files
        an interrupted checkpoint write left behind.

        Returns:
            The folder holding the replaced run's files until the first checkpoint, or ``None``.
        """
        if self.run_dir is None or not is_main_process():
            return None
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            removed = remove_leftover_temporaries(self.run_dir)
            if removed:
                logger.info(
                    "removed %d leftover temporary checkpoint file(s) in %s", len(removed), self.run_dir
                )
            if not self._replacing:
                return None
            aside = self.run_dir / f"{REPLACED_PREFIX}{secrets.token_hex(4)}"
            aside.mkdir()
        except OSError as err:
            raise _output_error(err, self.run_dir) from err
        try:
            for name in self._replacing:
                os.replace(self.run_dir / name, aside / name)
        except OSError as err:
            self._restore_replaced(aside, remove_new=False)
            raise _output_error(err, self.run_dir) from err
        return aside

    def _finish_replacing(self, aside: Path | None) -> None:
        """The new run has its first checkpoint: the replaced run's files go (with any a killed earlier
        ``overwrite`` left aside)."""
        if aside is not None and self.run_dir is not None:
            for folder in self.run_dir.glob(f"{REPLACED_PREFIX}*"):
                shutil.rmtree(folder, ignore_errors=True)

    def _restore_replaced(self, aside: Path | None, remove_new: bool = True) -> None:
        """The new run failed before its first checkpoint: put the replaced run's files back.

        Args:
            aside: the folder holding them.
            remove_new: also delete run files the failed run wrote that the old run did not have.
        """
        if aside is None or self.run_dir is None:
            return
        try:
            for name in RUN_FILES:
                if (aside / name).exists():
                    os.replace(aside / name, self.run_dir / name)
                elif remove_new and (self.run_dir / name).exists():  # the failed run's, not the old run's
                    (self.run_dir / name).unlink()
            aside.rmdir()
        except OSError as err:  # never hide the error that stopped the run
            logger.error("could not restore the previous run from %s: %s", aside, err)
            return
        logger.info(
            "the new run failed before its first checkpoint; the previous run in %s is restored", self.run_dir
        )

    def _load_compatible_checkpoint(self) -> dict[str, Any]:
        assert self.run_dir is not None
        state = load_checkpoint(self.run_dir / CHECKPOINT_NAME, map_location=self.device)
        saved = state.get("train_config", {})
        for key in ("seed", "lr", "optimizer", "accumulate_steps"):
            if key in saved and saved[key] != getattr(self.config, key):
                raise ConfigError(
                    f"cannot resume: the run was started with {key}={saved[key]!r}, now {key}="
                    f"{getattr(self.config, key)!r}; resume with the same settings"
                )
        planned = int(saved.get("epochs", self.config.epochs))
        self._restart_step = int(state.get("restart_step", 0))
        if planned != self.config.epochs:
            finished = int(state.get("epoch", 0)) >= planned and not state.get("batches_done")
            if not (finished and self.config.epochs > planned and self.config.max_steps is None):
                raise ConfigError(
                    f"cannot resume: the run was planned for {planned} epochs (its schedule depends on it), "
                    f"now {self.config.epochs}; a run can only be extended to more epochs once it has "
                    f"finished its {planned} (then its learning rate restarts a cosine over the new epochs)"
                )
            # extend a finished run: a warm restart (SGDR) of the cosine from the step it ended at
            self._restart_step = int(state.get("global_step", 0))
        for key in ("method", "optimizer", "scheduler", "epoch", "global_step"):
            if key not in state:
                raise CheckpointError(
                    f"cannot resume from {self.run_dir / CHECKPOINT_NAME}: it lacks {key!r} "
                    "(not a checkpoint written by the pairs Trainer)"
                )
        return state

    def _log(self, record: dict[str, Any]) -> None:
        if self.run_dir is None or not is_main_process():
            return
        path = self.run_dir / "metrics.jsonl"
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as err:
            raise _output_error(err, path) from err
        if self.config.tensorboard:
            self._tensorboard_scalars(record)

    def _tensorboard_scalars(self, record: dict[str, Any]) -> None:
        """The numbers of one ``metrics.jsonl`` record as TensorBoard scalars ``<event>/<key>``."""
        from pairs.results.tensorboard import open_writer

        writer = getattr(self, "_tb_writer", None)
        if writer is None:
            assert self.run_dir is not None
            writer = self._tb_writer = open_writer(self.run_dir)
        event = str(record.get("event", "log"))
        step = int(record.get("step", self.global_step))
        for key, value in record.items():
            if key in ("event", "step") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            writer.add_scalar(f"{event}/{key}", float(value), step)
        if event in ("end", "diverged"):
            writer.flush()

    # -- optimisation -----------------------------------------------------------------------------------
    def _build_optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        c = self.config
        # biases and norm scales: no weight decay (common practice), unless asked for
        decay = [p for p in params if p.ndim > 1 or c.decay_all_parameters]
        no_decay = [p for p in params if p.ndim <= 1 and not c.decay_all_parameters]
        groups = [
            {"params": decay, "weight_decay": c.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        if c.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=c.lr, momentum=c.momentum)
        if c.optimizer == "adam":
            return torch.optim.Adam(groups, lr=c.lr)
        return torch.optim.AdamW(groups, lr=c.lr)

    def _autocast(self) -> contextlib.AbstractContextManager:
        amp = self.config.amp
        if amp == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        if amp == "auto" and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    # -- the loop ---------------------------------------------------------------------------------------
    def fit(self, loader: Any) -> TrainResult:
        """Train for ``config.epochs`` epochs or ``config.max_steps`` optimizer steps, whichever ends first
        (or the rest of them, when resuming).

        Args:
            loader: an iterable of :class:`~pairs.pairing.ViewBatch` with ``__len__`` (``ViewLoader`` or a
                ``DataLoader`` with :func:`~pairs.pairing.collate_views`); ``set_epoch`` is called if present
                (``set_epoch(epoch, start_step=k)`` when resuming inside an epoch; a loader without it is
                iterated past its first ``k`` batches).

        Returns:
            A :class:`TrainResult`.

        Raises:
            TrainingDiverged: when training produces NaN/inf (see the module docstring); the last finite
                checkpoint is kept.
            ConfigError: when the loader has fewer batches than ``accumulate_steps``.
            OutputError: when the run directory cannot be written.
        """
        self._aside: Path | None = None
        # on the CPU, the step's freed buffers are kept for the next step (no page faults; pairs.memory)
        keep = kept_freed_memory() if self.device.type == "cpu" else contextlib.nullcontext()
        try:
            with keep:
                return self._fit(loader)
        except BaseException:
            if self._aside is not None:  # failed before the first checkpoint: the old run comes back
                self._restore_replaced(self._aside)
                self._aside = None
            raise

    def _fit(self, loader: Any) -> TrainResult:
        loop = self._plan(loader)
        self._aside = self._open_run_dir()
        if self.config.resume:
            loop.start_epoch, loop.start_batch, loop.rng_state = self._restore(
                loop.optimizer, loop.scheduler, loop.scaler
            )
        self._wrap_model(loop)
        self._write_config()
        self._log(
            {
                "event": "start",
                "epoch": loop.start_epoch,
                "total_epochs": loop.last_epoch,
                "device": str(self.device),
            }
        )
        epoch_losses: list[float] = []
        t_start = time.perf_counter()
        for epoch in range(loop.start_epoch, loop.last_epoch):
            epoch_losses.append(self._run_epoch(loop, loader, epoch, t_start))
        return self._finish(loop, epoch_losses, t_start)

    def _plan(self, loader: Any) -> _Loop:
        """The step budget, the method on the device, its optimizer, learning-rate schedule and scaler."""
        c = self.config
        steps_per_epoch = len(loader) // c.accumulate_steps
        if steps_per_epoch < 1:
            raise ConfigError(
                f"the loader yields {len(loader)} batches per epoch, fewer than accumulate_steps="
                f"{c.accumulate_steps}; use a smaller batch size or fewer accumulation steps"
            )
        total_steps = steps_per_epoch * c.epochs
        if c.max_steps is not None:
            total_steps = min(total_steps, c.max_steps)
        warmup_steps = int(round(c.warmup_epochs * steps_per_epoch))
        self.method.to(self.device)
        params = [p for p in self.method.parameters() if p.requires_grad]
        optimizer = self._build_optimizer(params)

        def lr_factor(s: int) -> float:
            r = self._restart_step  # 0, or the step where an extended run restarted its cosine
            if s < r or r >= total_steps:
                return warmup_cosine(s, total_steps, warmup_steps, c.min_lr_ratio)
            return warmup_cosine(s - r, total_steps - r, 0 if r else warmup_steps, c.min_lr_ratio)

        return _Loop(
            steps_per_epoch=steps_per_epoch,
            total_steps=total_steps,
            last_epoch=math.ceil(total_steps / steps_per_epoch),  # the last one may stop early (max_steps)
            params=params,
            optimizer=optimizer,
            scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor),
            scaler=torch.amp.GradScaler("cuda", enabled=(c.amp == "auto" and self.device.type == "cuda")),
            model=self.method,
        )

    def _wrap_model(self, loop: _Loop) -> None:
        """Under ``torchrun``: batch statistics over the global batch and the method in DDP."""
        loop.distributed = dist.is_available() and dist.is_initialized()
        if loop.distributed:
            # batch statistics over the global batch, so W processes train like one
            convert_batchnorm(self.method, self.device)
            loop.model = nn.parallel.DistributedDataParallel(
                self.method, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )

    def _write_config(self) -> None:
        """``config.json`` in the run directory: the training settings and ``extra_state``."""
        if self.run_dir is None or not is_main_process():
            return
        try:
            (self.run_dir / "config.json").write_text(
                json.dumps({"train": asdict(self.config), **self.extra_state}, indent=2, default=str)
            )
        except OSError as err:
            raise _output_error(err, self.run_dir / "config.json") from err

    def _run_epoch(self, loop: _Loop, loader: Any, epoch: int, t_start: float) -> float:
        """Train one epoch (the rest of it when resuming inside it); returns its mean loss over processes."""
        c = self.config
        self.epoch = epoch
        torch.manual_seed(derive_seed(c.seed, 0x51, epoch))  # dropout, masks: reproducible per epoch
        skip = loop.start_batch if epoch == loop.start_epoch else 0
        batches = self._epoch_batches(loop, loader, epoch, skip)
        loop.model.train()
        bar = tqdm(
            total=min(loop.steps_per_epoch, loop.total_steps - epoch * loop.steps_per_epoch),
            initial=skip // c.accumulate_steps,
            desc=f"epoch {epoch + 1}/{loop.last_epoch}",
            disable=not (c.progress and is_main_process()),
            leave=False,
            dynamic_ncols=True,
        )
        running, n_running = 0.0, 0
        micro = skip
        self._batches_done = skip
        loop.optimizer.zero_grad(set_to_none=True)
        for batch in batches:
            last_micro = (micro + 1) % c.accumulate_steps == 0
            out = self._forward_backward(loop, batch, epoch, last_micro)
            micro += 1
            self._batches_done = micro
            if not last_micro:
                continue
            self._optimizer_step(loop)
            running += loop.loss_value
            n_running += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loop.loss_value:.4f}", lr=f"{loop.scheduler.get_last_lr()[0]:.2e}")
            epoch_done = (
                micro // c.accumulate_steps >= loop.steps_per_epoch or self.global_step >= loop.total_steps
            )
            self._log_step(loop, out, epoch, epoch_done)
            if epoch_done:
                break
            if c.checkpoint_steps is not None and self.global_step % c.checkpoint_steps == 0:
                self._save(loop.optimizer, loop.scheduler, loop.scaler, mid_epoch=True)
        bar.close()
        return self._end_epoch(loop, epoch, running / max(1, n_running), t_start)

    def _epoch_batches(self, loop: _Loop, loader: Any, epoch: int, skip: int) -> Iterable[Any]:
        """The epoch's batches, past the first ``skip`` when resuming inside it (RNG state as it was)."""
        if skip and loop.rng_state is not None:  # resumed inside the epoch: the RNG state it had there
            torch.set_rng_state(loop.rng_state.cpu())
        if hasattr(loader, "set_epoch"):
            if skip:
                loader.set_epoch(epoch, start_step=skip)
            else:
                loader.set_epoch(epoch)
            return loader
        if skip:
            return itertools.islice(iter(loader), skip, None)
        return loader

    def _forward_backward(self, loop: _Loop, batch: Any, epoch: int, last_micro: bool) -> dict[str, Any]:
        """The method's forward and the scaled backward of one micro-batch (gradients synchronised across
        processes on the last micro-batch of a step only); a non-finite loss stops the run."""
        ddp = cast(DistributedDataParallel, loop.model)  # the DDP wrapper when distributed
        sync = contextlib.nullcontext() if (last_micro or not loop.distributed) else ddp.no_sync()
        with sync:
            try:
                with self._autocast():
                    out = loop.model(batch)
                loss = out["loss"]
                loop.loss_value = float(loss.detach())
                if not math.isfinite(loop.loss_value):
                    raise self._divergence(epoch + 1, f"loss became {loop.loss_value}")
                loop.scaler.scale(loss / self.config.accumulate_steps).backward()
            except Exception as err:
                diverged = self._diverged_from(err, batch, epoch)
                if diverged is not None:
                    raise diverged from err
                raise
        return out

    def _optimizer_step(self, loop: _Loop) -> None:
        """Clip, step the optimizer, the scaler and the schedule; then the method's after-step hook."""
        if self.config.grad_clip is not None:
            loop.scaler.unscale_(loop.optimizer)
            torch.nn.utils.clip_grad_norm_(loop.params, self.config.grad_clip)
        loop.scaler.step(loop.optimizer)
        loop.scaler.update()
        loop.optimizer.zero_grad(set_to_none=True)
        loop.scheduler.step()
        self.global_step += 1
        self.method.on_after_optimizer_step(self.global_step / loop.total_steps)

    def _log_step(self, loop: _Loop, out: dict[str, Any], epoch: int, epoch_done: bool) -> None:
        """The step's record (loss, learning rate, the method's scalars, the collapse monitor's figures)."""
        c = self.config
        record = {
            "event": "step",
            "epoch": epoch + 1,
            "step": self.global_step,
            "loss": loop.loss_value,
            "lr": loop.scheduler.get_last_lr()[0],
        }
        record.update(
            {
                k: _scalar(v)
                for k, v in out.items()
                if k not in ("loss", "embeddings") and _scalar(v) is not None
            }
        )
        if self.global_step % c.monitor_every == 0 or epoch_done:
            record.update(self._monitor(out, epoch))
        if self.global_step % c.log_every == 0 or "effective_rank" in record:
            self._log(record)

    def _end_epoch(self, loop: _Loop, epoch: int, mean_loss: float, t_start: float) -> float:
        """Average the epoch's loss over processes, checkpoint when due, log, call the callbacks."""
        epoch_loss = all_reduce_mean(mean_loss, self.device)
        self.epoch = epoch + 1
        self._batches_done = 0
        if self.epoch % self.config.checkpoint_every == 0 or self.epoch == loop.last_epoch:
            self._save(loop.optimizer, loop.scheduler, loop.scaler)
        epoch_record = {
            "event": "epoch",
            "epoch": epoch + 1,
            "step": self.global_step,
            "loss": epoch_loss,
            "seconds": round(time.perf_counter() - t_start, 3),
        }
        self._log(epoch_record)
        for callback in self.callbacks:
            callback(self, epoch_record)
        return epoch_loss

    def _finish(self, loop: _Loop, epoch_losses: list[float], t_start: float) -> TrainResult:
        """Log the end, close TensorBoard, and make the :class:`TrainResult`."""
        seconds = time.perf_counter() - t_start
        self._log(
            {"event": "end", "epoch": self.epoch, "step": self.global_step, "seconds": round(seconds, 3)}
        )
        if getattr(self, "_tb_writer", None) is not None:
            self._tb_writer.close()
            self._tb_writer = None
        ckpt = str(self.run_dir / CHECKPOINT_NAME) if self.run_dir is not None else None
        final = epoch_losses[-1] if epoch_losses else loop.loss_value
        if not math.isfinite(final) and self.run_dir is not None:  # a finished run resumed: nothing trained
            final = _last_epoch_loss(self.run_dir / "metrics.jsonl", default=final)
        return TrainResult(
            loop.last_epoch,
            self.global_step,
            seconds,
            final,
            epoch_losses,
            str(self.run_dir) if self.run_dir else None,
            ckpt,
            loop.start_epoch,
        )

    def _monitor(self, out: dict[str, Any], epoch: int) -> dict[str, Any]:
        embeddings = out.get("embeddings")
        if embeddings is None or embeddings.dim() != 2 or embeddings.shape[0] < 2:
            return {}
        report = self.monitor.check(embeddings)
        if report.collapsed:
            message = (
                f"representation collapse suspected at epoch {epoch + 1}, step {self.global_step}: "
                f"{report.reason}"
            )
            if is_main_process():
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                logger.warning(message)
            self._log(
                {
                    "event": "collapse_warning",
                    "epoch": epoch + 1,
                    "step": self.global_step,
                    "reason": report.reason,
                }
            )
        return {
            "embedding_std": report.embedding_std,
            "std_ratio": report.std_ratio,
            "effective_rank": report.effective_rank,
        }

    def _divergence(self, epoch: int, what: str, step: int | None = None) -> TrainingDiverged:
        """Log a ``diverged`` event and build the error saying which checkpoint is kept.

        Args:
            epoch: the epoch (1-based) in which training diverged.
            what: what went non-finite.
            step: the optimizer step (1-based) it happened in (default: the one under way).
        """
        step = self.global_step + 1 if step is None else step
        ckpt = self.run_dir / CHECKPOINT_NAME if self.run_dir is not None else None
        kept_epoch = self._saved_epoch
        if ckpt is not None and kept_epoch is not None and ckpt.exists():
            where = (
                f"epoch {kept_epoch + 1}, step {self._saved_step}"
                if self._saved_mid_epoch
                else f"end of epoch {kept_epoch}"
            )
            kept = f"; the last good checkpoint ({where}) is kept at {ckpt}"
        elif ckpt is not None:
            kept = "; no checkpoint had been written yet"
        else:
            kept = ""
        self._log(
            {
                "event": "diverged",
                "epoch": epoch,
                "step": step,
                "reason": what,
                "kept_checkpoint_epoch": kept_epoch,
                "kept_checkpoint_step": self._saved_step if kept_epoch is not None else None,
            }
        )
        return TrainingDiverged(
            f"training diverged: {what} at epoch {epoch}, step {step}; "
            "try a lower learning rate "
            f"(now {self.config.lr:g}), gradient clipping, or amp off{kept}"
        )

    def _diverged_from(self, err: BaseException, batch: Any, epoch: int) -> TrainingDiverged | None:
        """Tell divergence from other errors raised inside a training step.

        After the weights have been trained (at least one optimizer step, or a resumed run), an error in the
        step is divergence when the weights hold NaN/inf, or when a layer computes NaN/inf from a finite
        batch (e.g. a loss refusing NaN embeddings after ``lr=1e10``). A batch that itself holds NaN/inf,
        or an error with finite values throughout, is passed on unchanged.

        Returns:
            The :class:`TrainingDiverged` to raise, or ``None``.
        """
        if isinstance(err, PairsError) and not isinstance(err, (ValueError, RuntimeError)):
            return None
        if isinstance(err, TrainingDiverged) or self.global_step == 0:
            return None
        bad = non_finite_entries(dict(self.method.named_parameters()))
        if bad:
            return self._divergence(epoch + 1, f"{len(bad)} weight tensors became NaN/inf (first: {bad[0]})")
        views = getattr(batch, "views", batch)
        if not all(bool(torch.isfinite(t).all()) for t in _floating_tensors(views)):
            return None  # the data holds NaN/inf: not training's doing
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            return None  # re-running the forward pass alone could wait forever on the other processes
        layer = self._first_non_finite_layer(batch)
        if layer is None:
            return None
        return self._divergence(epoch + 1, f"layer {layer!r} computed NaN/inf from a finite batch")

    def _first_non_finite_layer(self, batch: Any) -> str | None:
        """Re-run the step's forward pass (no gradients) and name the first module whose output holds
        NaN/inf, or ``None``."""
        found: list[str] = []

        def hook(name: str) -> Callable[..., None]:
            def check(module: nn.Module, args: Any, output: Any) -> None:
                if not found and any(not bool(torch.isfinite(t).all()) for t in _floating_tensors(output)):
                    found.append(name or type(module).__name__)

            return check

        handles = [m.register_forward_hook(hook(name)) for name, m in self.method.named_modules()]
        try:
            with torch.no_grad(), self._autocast():
                self.method(batch)
        except Exception:  # the error being diagnosed, raised again: the hooks have seen what they need
            pass
        finally:
            for handle in handles:
                handle.remove()
        return found[0] if found else None

    # -- checkpoints ------------------------------------------------------------------------------------
    def _save(self, optimizer, scheduler, scaler, mid_epoch: bool = False) -> Path | None:
        """Write the checkpoint (``mid_epoch``: inside ``self.epoch``, after ``_batches_done`` batches)."""
        if self.run_dir is None:
            return None
        path = self.run_dir / CHECKPOINT_NAME
        method_state = self.method.state_dict()
        optimizer_state = optimizer.state_dict()
        bad = non_finite_entries({"method": method_state, "optimizer": optimizer_state["state"]})
        if bad:  # never replace a finite checkpoint with a diverged one
            shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            raise self._divergence(
                self.epoch,
                f"{len(bad)} tensors of the weights/optimizer state hold NaN/inf ({shown})",
                step=self.global_step,
            )
        if is_main_process():
            position = {}
            if mid_epoch:
                position = {"batches_done": self._batches_done, "rng_state": torch.get_rng_state()}
            save_checkpoint(
                {
                    "epoch": self.epoch,
                    **position,
                    "global_step": self.global_step,
                    "method": method_state,
                    "optimizer": optimizer_state,
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    "restart_step": self._restart_step,
                    "train_config": asdict(self.config),
                    "extra": self.extra_state,
                },
                path,
            )
        barrier()
        self._saved_epoch = self.epoch
        self._saved_step = self.global_step
        self._saved_mid_epoch = mid_epoch
        if self._aside is not None:  # the new run has its first checkpoint: the replaced one goes
            self._finish_replacing(self._aside)
            self._aside = None
        return path

    def _restore(self, optimizer, scheduler, scaler) -> tuple[int, int, Tensor | None]:
        """Load the saved state; returns ``(epoch, batches done in it, global RNG state or None)``."""
        assert self.run_dir is not None
        state = self._resume_state
        assert state is not None  # set by the resume check before training starts
        self._resume_state = None
        self.method.load_state_dict(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if self._restart_step == int(state["global_step"]) and self._restart_step > 0:
            # extending a finished run: its optimizer holds the schedule's last (smallest) learning rate
            for group, base in zip(optimizer.param_groups, scheduler.base_lrs):
                group["lr"] = base * scheduler.lr_lambdas[0](scheduler.last_epoch)
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        batches_done = int(state.get("batches_done", 0))
        self._log(
            {"event": "resume", "epoch": self.epoch, "step": self.global_step, "batches_done": batches_done}
        )
        return self.epoch, batches_done, state.get("rng_state")


def _scalar(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    return None


def _floating_tensors(value: Any, depth: int = 0) -> Iterator[torch.Tensor]:
    """Floating-point tensors inside a batch or a module output (tensors, lists, tuples, dicts, PyG data)."""
    if depth > 6:
        return
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _floating_tensors(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _floating_tensors(item, depth + 1)
    elif hasattr(value, "to_dict") and callable(value.to_dict):  # torch_geometric Data / Batch
        try:
            yield from _floating_tensors(value.to_dict(), depth + 1)
        except Exception:  # pragma: no cover - a to_dict that is not PyG's
            return


def _output_error(err: OSError, path: Path) -> OutputError:
    """An :class:`~pairs.errors.OutputError` for a run file or folder that cannot be written."""
    reason = err.strerror or str(err)
    error = OutputError(f"cannot write the run directory {path}: {reason}; choose another --out")
    error.errno = err.errno
    return error


def clear_run_dir(path: str | Path) -> None:
    """Remove a run directory entirely (used by tests and scripts; the CLI never calls it)."""
    shutil.rmtree(path, ignore_errors=True)
