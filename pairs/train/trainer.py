"""The one Trainer: every method, every domain.

Loop: for each epoch, ``loader.set_epoch(e)``; for each batch, ``method(batch)`` gives the loss; backward
(under AMP where the device supports it), gradient accumulation, clipping, optimizer step, per-step
warm-up + cosine learning rate, ``method.on_after_optimizer_step(progress)`` (momentum targets).
After every epoch (or every ``checkpoint_every`` epochs) a checkpoint is written atomically; ``resume=True``
continues from it exactly (the views and shuffles depend on ``(seed, epoch, step)`` only, and the global
torch RNG is re-seeded per epoch).
A non-finite loss stops the run with a clear error and leaves the last good checkpoint in place. A collapse
monitor logs the embedding std and effective rank and warns when they collapse. Metrics go to
``metrics.jsonl`` in the run directory. Under ``torchrun`` the method is wrapped in DDP.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import shutil
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm.auto import tqdm

from pairs.errors import ConfigError, TrainingDiverged
from pairs.eval.metrics import check_positive_int
from pairs.methods.base import Method
from pairs.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
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

RUN_FILES = (CHECKPOINT_NAME, "metrics.jsonl", "config.json", "result.json")
"""Files a run writes into its directory (``overwrite=True`` removes exactly these)."""


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

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field."""
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.max_steps is not None:
            check_positive_int(self.max_steps, "max_steps (optimizer steps, or None)")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if self.optimizer not in ("adamw", "adam", "sgd"):
            raise ValueError(f"optimizer must be one of adamw, adam, sgd; got {self.optimizer!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        if self.amp not in ("auto", "bf16", "off"):
            raise ValueError(f"amp must be one of auto, bf16, off; got {self.amp!r}")
        check_positive_int(self.checkpoint_every, "checkpoint_every (epochs)")
        if self.checkpoint_steps is not None:
            check_positive_int(self.checkpoint_steps, "checkpoint_steps (optimizer steps, or None)")
        if self.accumulate_steps < 1:
            raise ValueError(f"accumulate_steps must be >= 1, got {self.accumulate_steps}")
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other: pick one")
        if (self.resume or self.overwrite) and self.out_dir is None:
            raise ValueError("resume/overwrite need a run directory (out_dir)")


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


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; validates explicit CUDA requests."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was asked for but CUDA is not available here; use --device cpu or auto"
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}; use auto, cpu, cuda or cuda:N")
    return dev


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
        config = config or TrainConfig()
        for key, value in overrides.items():
            if not hasattr(config, key):
                raise TypeError(f"Trainer got an unknown setting {key!r}")
            setattr(config, key, value)
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
        self._prepare_run_dir()

    # -- run directory ----------------------------------------------------------------------------------
    def _prepare_run_dir(self) -> None:
        if self.run_dir is None:
            return
        if self.config.resume:  # every rank reads the checkpoint
            if not (self.run_dir / CHECKPOINT_NAME).exists():
                raise ValueError(f"nothing to resume: {self.run_dir / CHECKPOINT_NAME} does not exist")
            self._resume_state = self._load_compatible_checkpoint()
            return
        if not is_main_process():
            return
        existing = [name for name in RUN_FILES if (self.run_dir / name).exists()]
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise ValueError(f"run directory {self.run_dir} exists and is a file")
        if existing or (self.run_dir.exists() and any(self.run_dir.iterdir())):
            if not self.config.overwrite:
                raise RunDirectoryExists(
                    f"run directory {self.run_dir} already exists; pass --resume to continue it, "
                    "--overwrite to "
                    "replace it, or choose another --out"
                )
            for name in existing:
                (self.run_dir / name).unlink()
            for leftover in self.run_dir.glob(f".{CHECKPOINT_NAME}.*.tmp"):
                leftover.unlink()
        self.run_dir.mkdir(parents=True, exist_ok=True)

    def _load_compatible_checkpoint(self) -> dict[str, Any]:
        assert self.run_dir is not None
        state = load_checkpoint(self.run_dir / CHECKPOINT_NAME, map_location=self.device)
        saved = state.get("train_config", {})
        for key in ("seed", "lr", "optimizer", "accumulate_steps"):
            if key in saved and saved[key] != getattr(self.config, key):
                raise ValueError(
                    f"cannot resume: the run was started with {key}={saved[key]!r}, now {key}="
                    f"{getattr(self.config, key)!r}; resume with the same settings"
                )
        if saved.get("epochs", self.config.epochs) != self.config.epochs:
            raise ValueError(
                f"cannot resume: the run was planned for {saved['epochs']} epochs "
                "(its schedule depends on it), "
                f"now {self.config.epochs}"
            )
        return state

    def _log(self, record: dict[str, Any]) -> None:
        if self.run_dir is None or not is_main_process():
            return
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

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
            TrainingDiverged: when the loss becomes NaN/inf.
        """
        c = self.config
        steps_per_epoch = len(loader) // c.accumulate_steps
        if steps_per_epoch < 1:
            raise ValueError(
                f"the loader yields {len(loader)} batches per epoch, fewer than accumulate_steps="
                f"{c.accumulate_steps}; use a smaller batch size or fewer accumulation steps"
            )
        total_steps = steps_per_epoch * c.epochs
        if c.max_steps is not None:
            total_steps = min(total_steps, c.max_steps)
        last_epoch = math.ceil(total_steps / steps_per_epoch)  # the last one may stop early (max_steps)
        warmup_steps = int(round(c.warmup_epochs * steps_per_epoch))
        self.method.to(self.device)
        params = [p for p in self.method.parameters() if p.requires_grad]
        optimizer = self._build_optimizer(params)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: warmup_cosine(s, total_steps, warmup_steps, c.min_lr_ratio)
        )
        scaler = torch.amp.GradScaler("cuda", enabled=(c.amp == "auto" and self.device.type == "cuda"))
        start_epoch, start_batch = 0, 0
        rng_state = None
        if c.resume:
            start_epoch, start_batch, rng_state = self._restore(optimizer, scheduler, scaler)
        model: nn.Module = self.method
        distributed = dist.is_available() and dist.is_initialized()
        if distributed:
            # batch statistics over the global batch, so W processes train like one
            convert_batchnorm(self.method, self.device)
            model = nn.parallel.DistributedDataParallel(
                self.method, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if self.run_dir is not None and is_main_process():
            (self.run_dir / "config.json").write_text(
                json.dumps({"train": asdict(c), **self.extra_state}, indent=2, default=str)
            )
        self._log(
            {"event": "start", "epoch": start_epoch, "total_epochs": last_epoch, "device": str(self.device)}
        )
        epoch_losses: list[float] = []
        t_start = time.perf_counter()
        loss_value = float("nan")
        for epoch in range(start_epoch, last_epoch):
            self.epoch = epoch
            torch.manual_seed(derive_seed(c.seed, 0x51, epoch))  # dropout, masks: reproducible per epoch
            skip = start_batch if epoch == start_epoch else 0
            if skip and rng_state is not None:  # resumed inside the epoch: the RNG state it had there
                torch.set_rng_state(rng_state.cpu())
            batches: Iterable[Any] = loader
            if hasattr(loader, "set_epoch"):
                if skip:
                    loader.set_epoch(epoch, start_step=skip)
                else:
                    loader.set_epoch(epoch)
            elif skip:
                batches = itertools.islice(iter(loader), skip, None)
            model.train()
            bar = tqdm(
                total=min(steps_per_epoch, total_steps - epoch * steps_per_epoch),
                initial=skip // c.accumulate_steps,
                desc=f"epoch {epoch + 1}/{last_epoch}",
                disable=not (c.progress and is_main_process()),
                leave=False,
                dynamic_ncols=True,
            )
            running, n_running = 0.0, 0
            micro = skip
            self._batches_done = skip
            optimizer.zero_grad(set_to_none=True)
            for batch in batches:
                last_micro = (micro + 1) % c.accumulate_steps == 0
                sync = contextlib.nullcontext() if (last_micro or not distributed) else model.no_sync()
                with sync:
                    with self._autocast():
                        out = model(batch)
                    loss = out["loss"]
                    loss_value = float(loss.detach())
                    if not math.isfinite(loss_value):
                        self._diverged(epoch, loss_value, optimizer)
                    scaler.scale(loss / c.accumulate_steps).backward()
                micro += 1
                self._batches_done = micro
                if not last_micro:
                    continue
                if c.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, c.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                self.global_step += 1
                self.method.on_after_optimizer_step(self.global_step / total_steps)
                running += loss_value
                n_running += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
                record = {
                    "event": "step",
                    "epoch": epoch + 1,
                    "step": self.global_step,
                    "loss": loss_value,
                    "lr": scheduler.get_last_lr()[0],
                }
                record.update(
                    {
                        k: _scalar(v)
                        for k, v in out.items()
                        if k not in ("loss", "embeddings") and _scalar(v) is not None
                    }
                )
                epoch_done = micro // c.accumulate_steps >= steps_per_epoch or self.global_step >= total_steps
                if self.global_step % c.monitor_every == 0 or epoch_done:
                    record.update(self._monitor(out, epoch))
                if self.global_step % c.log_every == 0 or "effective_rank" in record:
                    self._log(record)
                if epoch_done:
                    break
                if c.checkpoint_steps is not None and self.global_step % c.checkpoint_steps == 0:
                    self._save(optimizer, scheduler, scaler, mid_epoch=True)
            bar.close()
            epoch_loss = all_reduce_mean(running / max(1, n_running), self.device)
            epoch_losses.append(epoch_loss)
            self.epoch = epoch + 1
            self._batches_done = 0
            if self.epoch % c.checkpoint_every == 0 or self.epoch == last_epoch:
                self._save(optimizer, scheduler, scaler)
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
        seconds = time.perf_counter() - t_start
        self._log(
            {"event": "end", "epoch": self.epoch, "step": self.global_step, "seconds": round(seconds, 3)}
        )
        ckpt = str(self.run_dir / CHECKPOINT_NAME) if self.run_dir is not None else None
        final = epoch_losses[-1] if epoch_losses else loss_value
        return TrainResult(
            last_epoch,
            self.global_step,
            seconds,
            final,
            epoch_losses,
            str(self.run_dir) if self.run_dir else None,
            ckpt,
            start_epoch,
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
                tqdm.write(f"warning: {message}")
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

    def _diverged(self, epoch: int, value: float, optimizer: torch.optim.Optimizer) -> None:
        ckpt = self.run_dir / CHECKPOINT_NAME if self.run_dir is not None else None
        kept = (
            f"; the last good checkpoint (end of epoch {epoch}) is kept at {ckpt}"
            if ckpt is not None and ckpt.exists()
            else ""
        )
        self._log({"event": "diverged", "epoch": epoch + 1, "step": self.global_step, "loss": value})
        raise TrainingDiverged(
            f"loss became {value} at epoch {epoch + 1}, step {self.global_step + 1}; "
            "try a lower learning rate "
            f"(now {self.config.lr:g}), gradient clipping, or amp off{kept}"
        )

    # -- checkpoints ------------------------------------------------------------------------------------
    def _save(self, optimizer, scheduler, scaler, mid_epoch: bool = False) -> Path | None:
        """Write the checkpoint (``mid_epoch``: inside ``self.epoch``, after ``_batches_done`` batches)."""
        if self.run_dir is None:
            return None
        path = self.run_dir / CHECKPOINT_NAME
        if is_main_process():
            position = {}
            if mid_epoch:
                position = {"batches_done": self._batches_done, "rng_state": torch.get_rng_state()}
            save_checkpoint(
                {
                    "epoch": self.epoch,
                    **position,
                    "global_step": self.global_step,
                    "method": self.method.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    "train_config": asdict(self.config),
                    "extra": self.extra_state,
                },
                path,
            )
        barrier()
        return path

    def _restore(self, optimizer, scheduler, scaler) -> tuple[int, int, Tensor | None]:
        """Load the saved state; returns ``(epoch, batches done in it, global RNG state or None)``."""
        assert self.run_dir is not None
        state = self._resume_state
        self._resume_state = None
        self.method.load_state_dict(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
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


def clear_run_dir(path: str | Path) -> None:
    """Remove a run directory entirely (used by tests and scripts; the CLI never calls it)."""
    shutil.rmtree(path, ignore_errors=True)
