"""End-to-end runs from a data spec: what ``pairs train``, ``pairs eval`` and ``pairs preview`` call.

Everything the command line does is a function here, so a Python user can do the same::

    from pairs.experiment import train, evaluate_checkpoint
    report = train("digits", epochs=40, out="runs/digits")
    again = evaluate_checkpoint(report["checkpoint"])
"""

from __future__ import annotations

import errno
import functools
import logging
import numbers
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import encoders
from pairs.data import load_data
from pairs.data.registry import DataBundle
from pairs.data.source import default_workers, using_workers
from pairs.domains import Recipe, recipe_for
from pairs.errors import CheckpointError, ConfigError, OutputError, PairsError
from pairs.methods import build_method, get_method_class
from pairs.methods.base import Method
from pairs.pairing import ViewLoader
from pairs.train import TrainConfig, Trainer, TrainResult, load_checkpoint, resolve_device
from pairs.train.checkpoint import load_weights
from pairs.train.distributed import is_main_process
from pairs.views.model import split_view_spec

FIGURE_SUFFIXES = ("_acc", "_spearman", "_auc")
"""Report keys with these endings are evaluation figures (printed, and measured for the untrained encoder)."""


logger = logging.getLogger("pairs")


def _reporter(log: Callable[[str], None] | None) -> Callable[..., None]:
    """``say(message, level=INFO)``: a line for the user, to the ``pairs`` logger and to ``log`` if given
    (there a warning starts with ``warning: ``, as the ``pairs`` command shows it)."""

    def say(message: str, level: int = logging.INFO) -> None:
        logger.log(level, message)
        if log is not None:
            log(f"warning: {message}" if level >= logging.WARNING else message)

    return say


def _is_figure(key: str) -> bool:
    return key.endswith(FIGURE_SUFFIXES)


def below_untrained(report: dict[str, Any]) -> list[str]:
    """The figures of ``report`` (``*_acc``, ``*_spearman``, ``*_auc``) below their ``*_untrained`` twin.

    A trained encoder that scores below the same architecture at its random initialisation has not learned
    what the figure measures; ``pairs train`` says so in a warning line for each of these.
    """
    return sorted(
        key
        for key in report
        if _is_figure(key)
        and isinstance(report.get(f"{key}_untrained"), (int, float))
        and isinstance(report[key], (int, float))
        and report[key] < report[f"{key}_untrained"]
    )


def default_run_dir(data: str, method: str, root: str = "runs") -> Path:
    """A new run directory name ``runs/<data>-<method>-<timestamp>`` that does not exist yet."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{data}-{method}").strip("_")[:60]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{name}-{stamp}"
    k = 1
    while path.exists():
        k += 1
        path = Path(root) / f"{name}-{stamp}-{k}"
    return path


SEED_RANGE = (-(2**63), 2**63 - 1)
"""Seeds are 64-bit signed integers (what ``torch.manual_seed`` and the derived per-step seeds take)."""

_WRITE_REFUSALS = (
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.ENOTDIR,
    errno.EEXIST,
)


def check_seed(seed: Any) -> int:
    """Check a seed is an integer from -2**63 to 2**63 - 1 and return it.

    Raises:
        ConfigError: naming the valid range.
    """
    low, high = SEED_RANGE
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not low <= int(seed) <= high:
        raise ConfigError(f"seed must be an integer from {low} to {high} (a 64-bit seed), got {seed!r}")
    return int(seed)


def _is_write_refusal(err: OSError) -> bool:
    return err.errno in _WRITE_REFUSALS


def _cannot_write(path: Path, err: OSError) -> OutputError:
    error = OutputError(f"cannot write {path}: {err.strerror or err}; choose another --out")
    error.errno = err.errno
    return error


def check_writable(path: str | Path) -> None:
    """Check that ``path`` (a file or folder to be created, or an existing one) can be written, before any
    work: its nearest existing ancestor must be a writable folder on a writable file system.

    Raises:
        OutputError: naming the path and the reason (read-only file system, no permission, a file in the
            way).
    """
    path = Path(path).expanduser().absolute()
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe != path and not probe.is_dir():
        raise OutputError(f"cannot write {path}: {probe} is a file, not a folder; choose another --out")
    folder = probe if probe.is_dir() else probe.parent
    try:
        readonly = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # pragma: no cover - no statvfs: rely on access()
        readonly = False
    if readonly:
        raise OutputError(
            f"cannot write {path}: {folder} is on a read-only file system; choose another --out"
        )
    if not os.access(folder, os.W_OK | os.X_OK) or (
        probe == path and path.exists() and not os.access(path, os.W_OK)
    ):
        raise OutputError(f"cannot write {path}: no permission to write in {folder}; choose another --out")


def check_batch_size(model: torch.nn.Module, effective: int, asked: int) -> None:
    """Refuse a batch too small for the model's batch normalisation (it needs 2 samples per batch).

    Args:
        model: the method (encoder and heads).
        effective: the batch size training will use (the asked one, or the number of samples if fewer).
        asked: the batch size asked for (for the message).

    Raises:
        ConfigError: naming the batch size and the fix.
    """
    if effective >= 2:
        return
    norms = [
        name for name, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]
    if norms:
        got = (
            f"batch size {asked}" if asked == effective else f"batch size {effective} (the data has 1 sample)"
        )
        raise ConfigError(
            f"{got} is too small: the model uses batch normalization ({norms[0]}), which needs at least 2 "
            "samples per batch in training; use a batch size of 2 or more (batch_size, --batch-size)"
        )


def build_model(
    bundle: DataBundle,
    recipe: Recipe,
    *,
    encoder: str | None = None,
    encoder_kwargs: dict[str, Any] | None = None,
    method: str | None = None,
    method_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
) -> tuple[Method, dict[str, Any]]:
    """Build the method (with its encoder) for ``bundle``, initialised from ``seed``.

    Returns:
        ``(method, spec)`` where ``spec`` is the plain-data description saved in checkpoints to rebuild it.
    """
    encoder_name = encoder or recipe.encoder
    defaults = recipe.encoder_kwargs(bundle)
    if encoder_name != recipe.encoder:  # the recipe's settings are for its own encoder: keep what fits
        accepted = set(encoders.accepted_arguments(encoder_name))
        defaults = {k: v for k, v in defaults.items() if k in accepted}
    enc_kwargs = {**defaults, **(encoder_kwargs or {})}
    method_name = (method or recipe.method).lower()
    get_method_class(method_name)  # unknown names fail before any work
    meth_kwargs = dict(recipe.method_kwargs if method is None or method.lower() == recipe.method else {})
    meth_kwargs.update(method_kwargs or {})
    torch.manual_seed(seed)
    model = build_method(method_name, encoders.get(encoder_name, **enc_kwargs), **meth_kwargs)
    if model.needs_labels and bundle.train_labels is None:
        raise ConfigError(
            f"method {method_name!r} trains on labels, but {bundle.spec!r} has none; pick a self-supervised "
            "method or labeled data"
        )
    spec = {
        "data": bundle.spec,
        "domain": bundle.domain,
        "encoder": encoder_name,
        "encoder_kwargs": enc_kwargs,
        "method": method_name,
        "method_kwargs": meth_kwargs,
        "seed": seed,
        **recipe.preprocess_state,  # so that load_encoder(RUN) needs no training data
    }
    return model, spec


_MODEL_SETTINGS = ("encoder", "encoder_kwargs", "method", "method_kwargs", "seed")
"""The arguments of :func:`build_model` besides the data and recipe (a run's ``spec`` holds them all)."""


def _with_workers(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` inside :func:`~pairs.data.source.using_workers` of its ``workers`` argument."""

    @functools.wraps(fn)
    def wrapper(*args: Any, workers: int | None = None, **kwargs: Any) -> Any:
        with using_workers(workers):
            return fn(*args, workers=workers, **kwargs)

    return wrapper


@_with_workers
def train(
    data: str = "digits",
    *,
    method: str | None = None,
    encoder: str | None = None,
    views: str | None = None,
    method_kwargs: dict[str, Any] | None = None,
    encoder_kwargs: dict[str, Any] | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    device: str = "auto",
    out: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    evaluate_untrained: bool = True,
    log: Callable[[str], None] | None = None,
    workers: int | None = None,
    max_steps: int | None = None,
    checkpoint_steps: int | None = None,
    report_png: bool = False,
    tensorboard: bool = False,
) -> dict[str, Any]:
    """Train on a data spec with its domain's defaults (any argument given overrides them), then evaluate.

    Args:
        data: data spec (``pairs data`` lists them).
        method, encoder, views: names overriding the domain defaults.
        method_kwargs, encoder_kwargs: settings of the method / encoder over the domain defaults (e.g.
            ``{"temperature": 0.2}``); a resumed run keeps its own.
        epochs, batch_size, lr: training budget overriding the domain defaults.
        seed: seed of initialisation, shuffles and views.
        device: ``auto``, ``cpu``, ``cuda``.
        out: run directory (default: a new ``runs/<data>-<method>-<time>``).
        resume: continue the run in ``out`` (its saved settings are used where none are given).
        overwrite: replace the run in ``out``.
        progress: show progress bars.
        evaluate_untrained: also evaluate the randomly initialised encoder (same architecture and seed).
        log: also send the human-readable lines to this callable (e.g. ``print``; warnings start with
            ``warning: ``). They always go to the ``pairs`` logger (:mod:`logging`; warnings at level
            WARNING), which the ``pairs`` command shows.
        workers: ``DataLoader`` workers decoding a streamed source, for training and evaluation (default
            :func:`pairs.data.source.default_workers`, from the core count).
        max_steps: stop after this many optimizer steps (overrides the recipe's step budget; with
            ``epochs``, whichever ends first).
        checkpoint_steps: also save the checkpoint every this many optimizer steps inside an epoch, so
            ``resume`` continues a long epoch where it stopped (default: every 500 steps for streamed data,
            only at epoch ends for data in memory).
        report_png: draw the run's report figure (:func:`pairs.results.report.report`) into
            ``<run_dir>/report.png`` at the end (``report["report"]`` is its path).
        tensorboard: also write the scalars of ``metrics.jsonl`` to ``<run_dir>/tensorboard`` as they are
            logged, and the held-out embeddings with labels to TensorBoard's projector at the end (needs
            ``tensorboard``).

    Returns:
        The report: ``data``, ``method``, ``encoder``, ``views``, ``epochs``, ``train_seconds``, the domain's
        evaluation figures (``linear_probe_acc``, ``knn_acc``, ...), the same with suffix ``_untrained``,
        the domain's hand-crafted baseline figures if it has any (audio: ``mfcc_probe_acc``),
        ``checkpoint`` and ``run_dir``.
    """
    say = _reporter(log)
    check_seed(seed)
    if out is not None and not resume:  # before any work: the run directory must be writable
        check_writable(out)
    asked: dict[str, Any] = {
        "data": data,
        "method": method,
        "encoder": encoder,
        "views": views,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "max_steps": max_steps,
        "method_kwargs": method_kwargs,
        "encoder_kwargs": encoder_kwargs,
    }
    s = _resumed_settings(out, asked) if resume else asked
    bundle = load_data(s["data"])
    recipe = recipe_for(bundle)
    model, spec = build_model(bundle, recipe, **{k: s[k] for k in _MODEL_SETTINGS})
    view_name, view = _choose_views(model, recipe, bundle, s["views"])
    dev = resolve_device(device)
    budget = _budget(model, recipe, s, resume)
    run_dir = Path(out) if out is not None else default_run_dir(s["data"], spec["method"])
    check_writable(run_dir)
    check_batch_size(model, min(budget["batch_size"], len(bundle.train)), budget["batch_size"])
    spec.update({"views": view_name, "batch_size": budget["batch_size"]})

    report: dict[str, Any] = {
        "data": bundle.spec,
        "domain": bundle.domain,
        "method": spec["method"],
        "encoder": spec["encoder"],
        "views": view_name,
        "epochs": budget["epochs"],
        "batch_size": budget["batch_size"],
        "lr": budget["lr"],
        "seed": s["seed"],
        "device": str(dev),
    }
    if evaluate_untrained and not resume and not bundle.streamed:
        untrained = recipe.evaluate(model.encoder, bundle, dev)
        report.update({f"{k}_untrained": v for k, v in untrained.items() if _is_figure(k)})
    config = _train_config(
        recipe,
        budget,
        checkpoint_steps=checkpoint_steps or (500 if bundle.streamed else None),
        tensorboard=tensorboard,
        seed=s["seed"],
        device=str(dev),
        out_dir=str(run_dir),
        resume=resume,
        overwrite=overwrite,
        progress=progress,
    )
    trainer = Trainer(model, config, extra_state=spec)
    loader = _train_loader(
        bundle, recipe, model, view, trainer, budget["batch_size"], s["seed"], workers, say
    )
    steps = budget["max_steps"]
    planned = (
        f"{budget['epochs']} epochs"
        if steps is None
        else f"{steps} steps (at most {budget['epochs']} epochs)"
    )
    say(
        f"training {spec['method']} with {spec['encoder']} on {bundle.spec} ({len(bundle.train)} samples, "
        f"views {view_name!r}) for {planned} on {trainer.device}; run directory {run_dir}"
    )
    result = trainer.fit(loader)
    _after_training(
        report,
        result,
        model,
        bundle,
        recipe,
        spec,
        trainer.device,
        untrained_after=evaluate_untrained and not resume,
        tensorboard=tensorboard,
        report_png=report_png,
        say=say,
    )
    return report


def _after_training(
    report: dict[str, Any],
    result: TrainResult,
    model: Method,
    bundle: DataBundle,
    recipe: Recipe,
    spec: dict[str, Any],
    device: torch.device,
    *,
    untrained_after: bool,
    tensorboard: bool,
    report_png: bool,
    say: Callable[..., None],
) -> None:
    """Complete ``report`` after :meth:`Trainer.fit` (``result``): the training figures; on the main process
    the trained encoder's figures, for streamed data (``untrained_after``) the untrained encoder's measured
    now, the domain's hand-crafted baseline, ``report.json`` and TensorBoard's projector; the figure lines
    and the report figure."""
    report.update(model.training_report())  # e.g. CPC: mean per-step accuracy over the last batches
    report.update(
        {
            "train_seconds": round(result.train_seconds, 2),
            "final_loss": result.final_loss,
            "steps": result.global_step,
        }
    )
    baseline: dict[str, Any] = {}
    if is_main_process():
        report.update(recipe.evaluate(model.encoder, bundle, device))
        if untrained_after and bundle.streamed:
            # after training, so the first step comes at once: the same initialisation, rebuilt from the seed
            untrained_model, _ = build_model(bundle, recipe, **{k: spec[k] for k in _MODEL_SETTINGS})
            untrained = recipe.evaluate(untrained_model.encoder, bundle, device)
            report.update({f"{k}_untrained": v for k, v in untrained.items() if _is_figure(k)})
        if recipe.baseline is not None:  # a hand-crafted feature, no encoder: once per run
            baseline = recipe.baseline(bundle)
            report.update(baseline)
    report.update({"checkpoint": result.checkpoint, "run_dir": result.run_dir})
    run_dir = result.run_dir
    assert run_dir is not None  # the training above wrote its run directory
    if is_main_process():
        _save_report(Path(run_dir), report)
        if tensorboard:
            from pairs.results.tensorboard import write_projector

            n_points = write_projector(run_dir, model.encoder, bundle, device, result.global_step)
            where = Path(run_dir) / "tensorboard"
            say(f"tensorboard: scalars and {n_points} held-out embeddings in {where}")
    _say_figures(report, baseline, say)
    if report_png and is_main_process():
        from pairs.results.report import report as draw_report

        drawn = draw_report(run_dir, Path(run_dir) / "report.png", device=str(device))
        report["report"] = drawn["out"]
        say(f"report: {drawn['out']}")


def _resumed_settings(out: str | None, asked: dict[str, Any]) -> dict[str, Any]:
    """The settings of a resumed run: those saved in ``out``'s checkpoint where none are asked for."""
    if out is None:
        raise ConfigError(
            "resuming needs the run directory to continue: out=DIR (--out DIR on the command line)"
        )
    if asked["method_kwargs"] or asked["encoder_kwargs"]:
        raise ConfigError(
            "a resumed run keeps the method and encoder settings it was started with; "
            "drop method_kwargs/encoder_kwargs (--method-arg/--encoder-arg), or start a new run"
        )
    state = load_checkpoint(Path(out))
    saved = dict(state.get("extra", {}))
    saved_train = state.get("train_config", {})
    s = dict(asked)
    s["data"] = saved.get("data", asked["data"])
    for key in ("method", "encoder", "views"):
        s[key] = asked[key] or saved.get(key)
    if asked["max_steps"] is None:
        s["max_steps"] = (
            saved_train.get("max_steps") if asked["epochs"] is None else None
        )  # new epochs: no old cap
    s["epochs"] = asked["epochs"] or saved_train.get("epochs")
    s["lr"] = asked["lr"] or saved_train.get("lr")
    s["batch_size"] = asked["batch_size"] or saved.get("batch_size")
    s["seed"] = saved_train.get("seed", asked["seed"])
    s["method_kwargs"] = saved.get("method_kwargs")
    s["encoder_kwargs"] = saved.get("encoder_kwargs")
    return s


def _choose_views(model: Method, recipe: Recipe, bundle: DataBundle, views: str | None) -> tuple[str, Any]:
    """The view spec (asked, else the method's preferred one the domain knows, else the domain's default)
    and the data view built from it; the method gets its model-view part (``"synonym+dropout"``)."""
    preferred = model.default_views
    view_name = views or (preferred if preferred and recipe.knows_view(preferred) else recipe.default_view)
    view = recipe.make_view(view_name, bundle)
    model.set_model_views(split_view_spec(view_name)[1])  # "synonym+dropout": the method's part
    return view_name, view


def _budget(model: Method, recipe: Recipe, s: dict[str, Any], resume: bool) -> dict[str, Any]:
    """``epochs``, ``batch_size``, ``lr`` and ``max_steps``: the asked ones over the domain's."""
    max_steps = s["max_steps"]
    epochs = s["epochs"]
    if max_steps is None and not resume:  # the recipe's step budget holds unless the user names the epochs
        max_steps = recipe.max_steps if epochs is None else None
    # pretrained encoders name their own fine-tuning rate (the recipe's is for training from scratch)
    lr = float(s["lr"] or model.fine_tune_lr or recipe.lr)
    return {
        "epochs": int(epochs or recipe.epochs),
        "batch_size": int(s["batch_size"] or recipe.batch_size),
        "lr": lr,
        "max_steps": max_steps,
    }


def _train_config(recipe: Recipe, budget: dict[str, Any], **settings: Any) -> TrainConfig:
    """The :class:`TrainConfig` of a run: the budget, the domain's optimisation settings, ``settings``."""
    return TrainConfig(
        epochs=budget["epochs"],
        lr=budget["lr"],
        optimizer=recipe.optimizer,
        weight_decay=recipe.weight_decay,
        decay_all_parameters=recipe.decay_all_parameters,
        max_steps=budget["max_steps"],
        warmup_epochs=min(recipe.warmup_epochs, budget["epochs"] / 4),
        min_lr_ratio=recipe.min_lr_ratio,
        checkpoint_every=recipe.checkpoint_every,
        **settings,
    )


def _train_loader(
    bundle: DataBundle,
    recipe: Recipe,
    model: Method,
    view: Any,
    trainer: Trainer,
    batch_size: int,
    seed: int,
    workers: int | None,
    say: Callable[..., None],
) -> Any:
    """The loader of view batches for training: from the shards of a ``wds:`` source, else a
    :class:`~pairs.pairing.ViewLoader` (streamed sources decode in workers, some domains' views there too)."""
    train_data = bundle.train
    if recipe.decode_views is not None and bundle.streamed and getattr(bundle, "shards", None) is None:
        view, train_data = recipe.decode_views(view, model.n_views, train_data)
    n_train = len(bundle.train)
    shards = getattr(bundle, "shards", None)
    if bundle.streamed and shards is None:
        say(f"{bundle.spec}: {n_train} items indexed; decoding them in {default_workers()} worker(s)")
    if shards is not None:  # wds: data streams from its shards, each rank reading its own part
        from pairs.data.shards import ShardLoader

        return ShardLoader(
            shards,
            view,
            n_views=model.n_views,
            batch_size=min(batch_size, n_train),
            seed=seed,
            device=trainer.device,
            collate=recipe.collate,
            labels=model.needs_labels,
            workers=default_workers() if workers is None else workers,
        )
    return ViewLoader(
        train_data,
        view,
        n_views=model.n_views,
        labels=bundle.train_labels if model.needs_labels else None,
        batch_size=min(batch_size, n_train),
        seed=seed,
        device=trainer.device,
        collate=recipe.collate,
        workers=workers,
    )


def _say_figures(report: dict[str, Any], baseline: dict[str, Any], say: Callable[..., None]) -> None:
    """One line per figure (with the untrained encoder's beside it), then a warning for each figure below
    the untrained encoder's (listed in ``report["below_untrained"]``)."""
    for key in sorted(k for k in report if _is_figure(k)):
        if key in baseline:
            note = " (hand-crafted baseline, no training)"
        elif f"{key}_untrained" in report:
            note = f" (untrained encoder: {report[key + '_untrained']:.4f})"
        else:
            note = ""
        say(f"{key}: {report[key]:.4f}{note}")
    report["below_untrained"] = below_untrained(report)
    for key in report["below_untrained"]:
        say(
            f"{key} {report[key]:.4f} is below the untrained encoder's "
            f"{report[key + '_untrained']:.4f}: training did not pay on this figure (try more epochs, other "
            "views or another method)",
            logging.WARNING,
        )


def _save_report(run_dir: Path, report: dict[str, Any]) -> None:
    """Write the run's figures to ``run_dir/report.json`` (what ``pairs report`` draws as bars)."""
    import json
    import math

    def safe(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)

    path = run_dir / "report.json"
    record = {k: safe(v) for k, v in report.items()}
    if path.exists():  # a resumed run: keep the untrained encoder's figures measured when it started
        try:
            old = json.loads(path.read_text())
            record.update({k: v for k, v in old.items() if k.endswith("_untrained") and k not in record})
        except (OSError, ValueError):
            pass
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


@_with_workers
def evaluate_checkpoint(
    checkpoint: str, data: str | None = None, device: str = "auto", workers: int | None = None
) -> dict[str, Any]:
    """Evaluate a saved run's encoder with its domain's protocol.

    Args:
        workers: ``DataLoader`` workers reading a streamed source (default: from the core count).
        checkpoint: a ``checkpoint.pt`` or the run directory holding it.
        data: evaluate on another data spec of the same domain (default: the training data).
        device: ``auto``, ``cpu``, ``cuda``.

    Returns:
        The domain's figures (and its hand-crafted baseline's, as in :func:`train`) plus ``data``,
        ``method``, ``encoder``, ``epochs``, ``checkpoint``.
    """
    state = load_checkpoint(checkpoint)
    extra = state.get("extra", {})
    if "data" not in extra or "method" not in extra:
        raise CheckpointError(
            f"{checkpoint} was not written by `pairs train` (it lacks the model description)"
        )
    if not isinstance(state.get("method"), dict):
        raise CheckpointError(
            f"{checkpoint} holds no model weights (no 'method' state); it is not a run's checkpoint"
        )
    bundle = load_data(data or extra["data"])
    if bundle.domain != extra.get("domain", bundle.domain):
        raise ConfigError(
            f"the checkpoint holds a {extra['domain']} encoder, but {bundle.spec!r} is {bundle.domain} data"
        )
    recipe = recipe_for(bundle)
    model, _ = build_model(
        bundle,
        recipe,
        encoder=extra["encoder"],
        encoder_kwargs=extra.get("encoder_kwargs"),
        method=extra["method"],
        method_kwargs=extra.get("method_kwargs"),
        seed=int(extra.get("seed", 0)),
    )
    load_weights(model, state["method"], checkpoint)
    dev = resolve_device(device)
    model.to(dev)
    figures = recipe.evaluate(model.encoder, bundle, dev)
    baseline = recipe.baseline(bundle) if recipe.baseline is not None else {}
    return {
        "data": bundle.spec,
        "method": extra["method"],
        "encoder": extra["encoder"],
        "epochs": int(state.get("epoch", 0)),
        **figures,
        **baseline,
        "checkpoint": str(checkpoint),
    }


def preview(
    data: str = "digits",
    views: str | None = None,
    n: int = 8,
    n_views: int = 4,
    out: str = "preview.png",
    seed: int = 0,
) -> str:
    """Draw ``n`` samples of ``data`` and ``n_views`` views of each into a PNG.

    Returns:
        The path written.
    """
    if n < 1 or n_views < 1:
        raise ConfigError(f"--n and the number of views must be >= 1, got n={n}, n_views={n_views}")
    check_seed(seed)
    out_path = Path(out)
    if out_path.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {out}")
    if not out_path.parent.exists():
        raise OutputError(f"folder {out_path.parent} does not exist; create it or choose another --out")
    check_writable(out_path)
    bundle = load_data(data)
    recipe = recipe_for(bundle)
    if recipe.preview is None:
        raise ConfigError(f"no preview drawing is available for {bundle.domain} data yet")
    view = recipe.make_view(views, bundle)
    count = min(n, len(bundle.train))
    try:
        recipe.preview(bundle, view, count, n_views, str(out_path), seed)
    except OSError as err:
        if isinstance(err, PairsError) or not _is_write_refusal(err):
            raise
        raise _cannot_write(out_path, err) from err
    return str(out_path)
