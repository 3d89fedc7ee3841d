"""The ``pairs`` command: a thin shell over :mod:`pairs.experiment`.

Exit codes: 0 success; 2 bad usage or a user error, i.e. an argparse error or a
:class:`pairs.errors.PairsError` (one line on stderr, no traceback); 1 internal error, i.e. any other
exception, a bug in pairs (one line on stderr naming the file the full traceback was written to; set
``PAIRS_DEBUG=1`` to see it raised instead); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from pairs.errors import PairsError, one_line
from pairs.validation import finite_float, integer, positive_int

SEED_RANGE = (-(2**63), 2**63 - 1)
"""Seeds are 64-bit signed integers (what ``torch.manual_seed`` and the derived per-step seeds take)."""


class _LineHandler(logging.Handler):
    """The ``pairs`` logger's records as the command's lines: information on stdout, warnings and errors on
    stderr (``warning: ...``), each written with ``tqdm.write`` so a progress bar is not broken."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm.auto import tqdm

            text = self.format(record)
            if record.levelno >= logging.WARNING:
                tqdm.write(f"{record.levelname.lower()}: {text}", file=sys.stderr)
            else:
                tqdm.write(text, file=sys.stdout)
        except Exception:  # noqa: BLE001 - logging's rule: a failing handler reports, never raises
            self.handleError(record)


@contextlib.contextmanager
def _showing_log() -> Iterator[None]:
    """Show the ``pairs`` logger's INFO and above while a command runs (handler and level restored after)."""
    logger = logging.getLogger("pairs")
    handler = _LineHandler(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class UsageError(Exception):
    """Bad command-line usage (argparse's errors are turned into this)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _checked(check: Callable[..., Any], value: Any, **options: Any) -> Any:
    """``check("", value, **options)`` (a :mod:`pairs.validation` check) with its error as argparse's."""
    try:
        return check("", value, **options)
    except PairsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    return _checked(positive_int, int(text))


def _nonnegative_int(text: str) -> int:
    return _checked(integer, int(text), minimum=0)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    low, high = SEED_RANGE
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(
            f"must be an integer from {low} to {high} (a 64-bit seed), got {text}"
        )
    return value


def _positive_float(text: str) -> float:
    return _checked(finite_float, float(text), minimum=0, strict=True)


def _setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> ``(KEY, VALUE)``; VALUE is read as JSON (numbers, true/false, null, lists) and kept
    as a string when it is not JSON (``negatives_from=same``). Nothing is evaluated as code."""
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with a Python name as KEY, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pairs", description="Contrastive self-supervised learning across domains.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", help="train an encoder on a data spec (default: SimCLR on digits)")
    t.add_argument("--data", default="digits", help="data spec (see `pairs data`); default digits")
    t.add_argument("--method", help="training method (default: the data's domain default)")
    t.add_argument("--encoder", help="encoder name (default: the domain default)")
    t.add_argument("--views", help="view recipe name (default: the domain default)")
    t.add_argument(
        "--method-arg", type=_setting, action="append", default=[], metavar="KEY=VALUE",
        help="a method setting over the default, repeatable (e.g. --method-arg temperature=0.2)",
    )  # fmt: skip
    t.add_argument(
        "--encoder-arg", type=_setting, action="append", default=[], metavar="KEY=VALUE",
        help="an encoder setting over the default, repeatable (e.g. --encoder-arg out_dim=64)",
    )  # fmt: skip
    t.add_argument("--epochs", type=_positive_int)
    t.add_argument("--batch-size", type=_positive_int)
    t.add_argument("--lr", type=_positive_float)
    t.add_argument("--seed", type=_seed, default=0, help="seed of initialisation, shuffles and views")
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    t.add_argument("--out", help="run directory (default: a new runs/<data>-<method>-<time>)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    t.add_argument("--no-progress", action="store_true", help="hide progress bars")
    t.add_argument("--threads", type=_positive_int, help="CPU threads for torch (default: torch's choice)")
    t.add_argument("--json", action="store_true", help="end with one JSON line of the run's figures")
    t.add_argument(
        "--workers",
        type=_nonnegative_int,
        help="DataLoader workers decoding your files (default: cores - 1, at most 8; 0: no workers)",
    )
    t.add_argument("--max-steps", type=_positive_int, help="stop after this many optimizer steps")
    t.add_argument(
        "--checkpoint-steps",
        type=_positive_int,
        help="also checkpoint every N steps inside an epoch (default: 500 for streamed data)",
    )
    t.add_argument("--report", action="store_true", help="draw the run's report figure to RUN/report.png")
    t.add_argument(
        "--tensorboard",
        action="store_true",
        help="also log to RUN/tensorboard (scalars, projector embeddings)",
    )

    e = sub.add_parser("eval", help="evaluate a saved run's encoder")
    e.add_argument("--checkpoint", required=True, help="checkpoint.pt or its run directory")
    e.add_argument("--data", help="data spec (default: the run's training data)")
    e.add_argument("--device", default="auto")
    e.add_argument("--threads", type=_positive_int, help="CPU threads for torch (default: torch's choice)")
    e.add_argument("--json", action="store_true")
    e.add_argument("--workers", type=_nonnegative_int, help="DataLoader workers (default: cores - 1)")

    p = sub.add_parser("preview", help="draw samples and their views into a PNG")
    p.add_argument("--data", default="digits")
    p.add_argument("--views", help="view recipe name (default: the domain default)")
    p.add_argument("--n", type=_positive_int, default=8, help="number of samples (rows)")
    p.add_argument("--n-views", type=_positive_int, default=4, help="views per sample (columns)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--out", required=True, help="output .png file")

    _add_results_commands(sub)

    k = sub.add_parser("pack", help="write a data spec into WebDataset tar shards (read back with wds:DIR)")
    k.add_argument("--data", required=True, help="data spec to pack (see `pairs data`)")
    k.add_argument("--out", required=True, help="output folder (new or empty)")
    k.add_argument("--shard-size", type=_positive_int, default=10_000, help="samples per shard (10000)")
    k.add_argument(
        "--workers",
        type=_nonnegative_int,
        help="DataLoader workers decoding a streamed source (default: cores - 1)",
    )
    k.add_argument("--no-progress", action="store_true", help="hide progress bars")
    k.add_argument("--json", action="store_true", help="end with one JSON line describing the shards")

    d = sub.add_parser("data", help="list the known data specs")
    d.add_argument("--json", action="store_true")
    return parser


def _positive_k(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    return _checked(positive_int, value)


def _add_results_commands(sub: Any) -> None:
    """``pairs embed``, ``pairs search``, ``pairs anomaly``: a trained run's encoder applied to data."""
    splits = ("all", "train", "test")
    m = sub.add_parser("embed", help="write one vector per item of a data spec (.npy or .parquet)")
    m.add_argument("--checkpoint", required=True, help="run directory (or its checkpoint.pt)")
    m.add_argument("--data", required=True, help="data spec of the run's domain (see `pairs data`)")
    m.add_argument("--out", required=True, help="output .npy (memory map; ids in .items.jsonl) or .parquet")
    m.add_argument("--split", choices=splits, default="all", help="which split of the data (default all)")
    mode = m.add_mutually_exclusive_group()
    mode.add_argument(
        "--pooled", dest="mode", action="store_const", const="pooled", help="one vector per item"
    )
    mode.add_argument(
        "--per-step", dest="mode", action="store_const", const="per_step",
        help="one vector per time step (series encoders, CPC): (N, T', D)",
    )  # fmt: skip
    m.set_defaults(mode="pooled")
    m.add_argument("--batch-size", type=_positive_int, help="items per forward pass")
    m.add_argument("--device", default="auto")
    m.add_argument("--json", action="store_true")

    s = sub.add_parser("search", help="nearest items of an index for each query (cosine)")
    s.add_argument("--checkpoint", required=True, help="run directory (or its checkpoint.pt)")
    s.add_argument("--index", required=True, help="data spec of the collection to search")
    s.add_argument(
        "--query", required=True,
        help="data spec, .npy of embeddings, or a file of the run's domain (image, audio, .txt lines)",
    )  # fmt: skip
    s.add_argument("-k", type=_positive_k, default=10, help="neighbours per query (default 10)")
    s.add_argument("--index-split", choices=splits, default="all")
    s.add_argument("--query-split", choices=splits, default="all")
    s.add_argument("--save-index", action="store_true", help="save the index next to the run and reuse it")
    s.add_argument("--backend", choices=("exact", "faiss"), default="exact", help="exact (default) or faiss")
    s.add_argument("--batch-size", type=_positive_int)
    s.add_argument("--device", default="auto")
    s.add_argument("--json", action="store_true", help="one JSON line per query, then a summary line")

    r = sub.add_parser("report", help="draw a run's report figure (curves, figures, map, neighbours)")
    r.add_argument("run", help="run directory (or its checkpoint.pt)")
    r.add_argument("--out", help="output .png (default: RUN/report.png)")
    r.add_argument("--queries", type=_positive_int, default=4, help="held-out queries drawn (rows)")
    r.add_argument("-k", type=_positive_k, default=6, help="neighbours drawn per query")
    r.add_argument("--device", default="auto")

    a = sub.add_parser("anomaly", help="anomaly score per item against a reference collection")
    a.add_argument("--checkpoint", required=True, help="run directory (or its checkpoint.pt)")
    a.add_argument("--reference", required=True, help="data spec of normal items")
    a.add_argument("--data", required=True, help="data spec of the items to score")
    a.add_argument("--reference-split", choices=splits, default="train")
    a.add_argument("--data-split", choices=splits, default="test")
    a.add_argument(
        "--anomaly-label", action="append", default=[], metavar="LABEL",
        help="label (index or class name) marking anomalies; left out of the reference; repeatable",
    )  # fmt: skip
    a.add_argument("--score", choices=("knn", "mahalanobis"), default="knn")
    a.add_argument("-k", type=_positive_k, default=5, help="neighbours of the k-NN score (default 5)")
    a.add_argument("--raw-baseline", action="store_true", help="also the ROC-AUC of raw inputs")
    a.add_argument("--out", help="scores as .npy (ids in .items.jsonl) or .parquet")
    a.add_argument("--batch-size", type=_positive_int)
    a.add_argument("--device", default="auto")
    a.add_argument("--json", action="store_true")


def _run_results_command(args: argparse.Namespace) -> int:
    if args.command == "embed":
        from pairs.results.embedding import embed

        info = embed(
            args.checkpoint, args.data, args.out, split=args.split, mode=args.mode,
            batch_size=args.batch_size, device=args.device,
        )  # fmt: skip
        print(f"wrote {info['out']}: {info['n']} items, shape {tuple(info['shape'])}")
        if args.json:
            _print_json(info)
        return 0
    if args.command == "search":
        from pairs.results.similarity import search

        found = search(
            args.checkpoint, args.index, args.query, k=args.k, index_split=args.index_split,
            query_split=args.query_split, save_index=args.save_index, backend=args.backend,
            batch_size=args.batch_size, device=args.device,
        )  # fmt: skip
        summary = {k: v for k, v in found.items() if k != "results"}
        summary["n_queries"] = len(found["results"])
        if args.json:
            for entry in found["results"]:
                _print_json(entry)
            _print_json(summary)
            return 0
        for entry in found["results"]:
            print(entry["query"])
            for nb in entry["neighbors"]:
                label = f"  label {nb['label']}" if "label" in nb else ""
                print(f"  {nb['score']:.4f}  {nb['id']}{label}")
        if "top1_label_agreement" in found:
            print(f"top1_label_agreement: {found['top1_label_agreement']:.4f}")
        return 0
    if args.command == "report":
        from pathlib import Path

        from pairs.results.report import report as draw_report

        run_path = Path(args.run)
        out = args.out or str((run_path if run_path.is_dir() else run_path.parent) / "report.png")
        drawn = draw_report(args.run, out, n_queries=args.queries, k=args.k, device=args.device)
        print(f"wrote {drawn['out']}")
        return 0
    from pairs.results.anomaly_scores import anomaly

    report = anomaly(
        args.checkpoint, args.reference, args.data, out=args.out, reference_split=args.reference_split,
        data_split=args.data_split, anomaly_labels=args.anomaly_label, score=args.score, k=args.k,
        raw_baseline=args.raw_baseline, batch_size=args.batch_size, device=args.device,
    )  # fmt: skip
    report.pop("scores", None)
    for key in ("roc_auc", "raw_roc_auc"):
        if key in report:
            print(f"{key}: {report[key]:.4f}")
    if report.get("out"):
        print(f"wrote {report['out']}: {report['n']} scores")
    if args.json:
        _print_json(report)
    return 0


def _json_safe(value: Any) -> Any:
    """Strict JSON: non-finite floats (e.g. an SVM's C = inf) become the strings "inf"/"-inf"/"nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _print_json(report: dict[str, Any]) -> None:
    print(json.dumps(_json_safe(report), default=str, allow_nan=False))


def run(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # usage on stderr, as for every other usage error
        parser.print_help(sys.stderr)
        print("pairs: error: a command is required (train, eval, preview or data)", file=sys.stderr)
        return 2
    if args.command == "data":
        from pairs.data import known_specs

        specs = known_specs()
        if args.json:
            _print_json({"specs": [{"spec": s, "domain": d, "description": t} for s, d, t in specs]})
        else:
            width = max(len(s) for s, _, _ in specs)
            for spec, domain, text in specs:
                print(f"{spec:<{width}}  {domain:<6}  {text}")
        return 0

    if args.command == "pack":
        from pairs.data.shards import pack

        meta = pack(
            args.data,
            args.out,
            shard_size=args.shard_size,
            progress=not args.no_progress,
            workers=args.workers,
        )
        for split, part in meta["splits"].items():
            print(f"{split}: {part['n']} samples in {len(part['shards'])} shards")
        print(f"wrote {args.out}; train on it with --data wds:{args.out}")
        if args.json:
            _print_json(
                {"out": args.out, "domain": meta["domain"], "spec": meta["spec"], "splits": meta["splits"]}
            )
        return 0

    from pairs import experiment

    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    if args.command == "train":
        report = experiment.train(
            args.data,
            method=args.method,
            encoder=args.encoder,
            views=args.views,
            method_kwargs=dict(args.method_arg) or None,
            encoder_kwargs=dict(args.encoder_arg) or None,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            out=args.out,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            workers=args.workers,
            max_steps=args.max_steps,
            checkpoint_steps=args.checkpoint_steps,
            report_png=args.report,
            tensorboard=args.tensorboard,
        )
        from pairs.train.distributed import is_main_process

        if args.json and is_main_process():  # under torchrun only rank 0 has the figures: one JSON line
            _print_json(report)
        return 0
    if args.command == "eval":
        report = experiment.evaluate_checkpoint(
            args.checkpoint, data=args.data, device=args.device, workers=args.workers
        )
        for key in sorted(k for k in report if k.endswith(experiment.FIGURE_SUFFIXES)):
            print(f"{key}: {report[key]:.4f}")
        if args.json:
            _print_json(report)
        return 0
    if args.command in ("embed", "search", "anomaly", "report"):
        return _run_results_command(args)
    if args.command == "preview":
        path = experiment.preview(
            args.data, views=args.views, n=args.n, n_views=args.n_views, out=args.out, seed=args.seed
        )
        print(f"wrote {path}")
        return 0
    raise UsageError(f"unknown command {args.command!r}")


def _traceback_folder() -> Path:
    env = os.environ.get("PAIRS_CACHE")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "pairs") / "errors"


def write_traceback(err: BaseException) -> Path | None:
    """Write ``err``'s traceback to a new file under ``$PAIRS_CACHE/errors`` (default ``~/.cache/pairs``),
    or the temporary folder when that cannot be written.

    Returns:
        The file written, or ``None`` when no folder could take it.
    """
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    header = f"pairs {' '.join(sys.argv[1:])}\n{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n\n"
    name = f"pairs-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for folder in (_traceback_folder(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(header + text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pairs`` console script.

    Returns:
        The exit code: 0 success, 2 usage or user error (:class:`~pairs.errors.PairsError`), 1 a bug
        (traceback written to a file), 130 interrupted.
    """
    try:
        with _showing_log():
            return run(argv)
    except UsageError as err:
        print(one_line(str(err)), file=sys.stderr)
        return 2
    except PairsError as err:
        message = one_line(str(err)) or type(err).__name__
        print(f"pairs: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pairs: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # anything else is a bug: one line, the traceback in a file
        from pairs.installation import dependency_error

        broken = dependency_error(err)  # an installed dependency that does not load: the install's fault
        if broken is not None:
            print(f"pairs: error: {broken}", file=sys.stderr)
            return 2
        if os.environ.get("PAIRS_DEBUG"):
            raise
        message = one_line(str(err))
        path = write_traceback(err)
        where = f"the traceback is in {path}" if path else "set PAIRS_DEBUG=1 for the traceback"
        print(
            f"pairs: internal error (a bug in pairs, please report it): {type(err).__name__}: {message} "
            f"({where})",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
