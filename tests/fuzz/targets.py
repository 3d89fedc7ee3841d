"""Every public view, functional form and loss, found by walking the packages, and how to feed each one.

Discovery is automatic: every name in ``__all__`` of ``pairs.views`` and of its domain modules, and of
``pairs.losses`` and ``pairs.losses.cpc``, becomes a fuzz target. What is written by hand is per domain,
not per target: how to build an input batch (:func:`make_view_input`), the values of required constructor
and function arguments, looked up by *parameter name* (:data:`VIEW_ARGS`, :data:`LOSS_ARGS`), and the few
names that take no data at all (:data:`NOT_FUZZED`, each with its reason). A new view, functional form or
loss is therefore fuzzed as soon as it is exported; if it needs an argument nobody knows how to fill,
:func:`discover` reports it and ``test_every_public_target_is_fuzzed`` fails.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import pkgutil
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

SR = 16000  # audio sample rate of the fuzz inputs (the views' default cutoffs need 16 kHz)
VIEW_DOMAINS = ("image", "temporal", "graph", "text", "audio")  # domain view modules that must be fuzzed
MODULE_DOMAIN = {"audio_pitch": "audio"}  # view modules that hold one domain's functions
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
INT_DTYPES = (torch.int64, torch.int16, torch.uint8)

CHOICES: dict[str, list[Any]] = {  # what a case draws (with a seed and five texts); the first choice of
    # each is a typical valid input, so hypothesis' first (simplest) example of a target exercises its success
    # path and the following ones the odd cases
    "b": [2, 3, 1, 0, 5],  # batch size, empty included
    "c": [1, 2, 3, 1],  # channels of series / audio
    "c_image": [3, 1, 2, 4, 3],
    "h": [8, 5, 13, 1, 2],
    "w": [8, 11, 3, 1],
    "t": [16, 33, 7, 3, 2, 1],
    "t_audio": [256, 601, 17, 2, 1],
    "f": [3, 1, 0],  # node features
    "d": [8, 3, 1, 0],  # embedding size
    "dtype": [torch.float32, torch.float64, torch.float16, torch.bfloat16] * 3 + list(INT_DTYPES),
    "magnitude": ["unit", "unit", "tiny", "large", "huge"],
    "special": [None, None, None, float("nan"), float("inf"), -float("inf")],
    "noncontiguous": [False, True],
    "rank_off": [0, 0, 0, 0, 0, 0, 1, -1, -2],  # a rank one too high / low, or flattened
    "mixed": [False, False, False, True],  # losses: the second input in another float dtype
    "options": [False, False, True],  # change some optional settings (see perturbed_options)
}
COUNTS: Counter[str] = Counter()  # outcome kind -> cases run (printed by conftest.py)
FAILURES: Counter[str] = Counter()  # contract violation kind -> cases

NOT_FUZZED: dict[str, str] = {
    # abstract bases: every concrete subclass is fuzzed
    "pairs.views.View": "abstract base of all views",
    "pairs.views.temporal.SeriesView": "abstract base of the series views",
    "pairs.views.graph.GraphView": "abstract base of the graph views",
    "pairs.views.text.TextView": "abstract base of the text views",
    "pairs.views.audio.AudioView": "abstract base of the audio views",
    # result and helper types that take no data
    "pairs.views.temporal.CropPair": "result type of OverlappingCrops (fuzzed through it)",
    "pairs.views.text.Edit": "result type of the text views (fuzzed through them)",
    "pairs.views.text.SynonymFinder": "synonym table behind SynonymSwap/RandomInsertion (fuzzed with them)",
    "pairs.views.make_generator": "turns a seed into a torch.Generator; takes no data",
    "pairs.views.audio.default_n_fft": "sample rate -> STFT size; takes no data",
    "pairs.views.text_lexicon": "the WordNet lexicon behind the text views (words, not view inputs)",
    "pairs.views.describe": "words for the parameters a view drew; reads them and transforms no data "
    "(tests/views/test_describe.py)",
    "pairs.views.model": "model views run the method's encoder on its own input and transform no data (their "
    "contract, seeding and errors: tests/views/test_model_views.py)",
    "pairs.views.graph_batch": "PyG batch bookkeeping behind the graph views (fuzzed through them; its "
    "interface: tests/views/test_graph_batch.py)",
    "pairs.views.audio_pitch.stft_frames": "analysis step of pitch_shift/time_stretch (fuzzed through them)",
    "pairs.views.audio_pitch.phase_vocoder": "stretch step of pitch_shift/time_stretch (fuzzed through them)",
    "pairs.views.audio_pitch.sinc_table": "interpolation kernel table (taps, phases); takes no data",
    "pairs.losses.check_temperature": "validates a number; takes no tensor data",
    "pairs.losses.cpc.CPCLossOutput": "result type of cpc_loss (fuzzed through it)",
    "pairs.losses.cpc.negative_candidates": "integer bookkeeping (batch, length, mode); takes no tensor data",
    "pairs.losses.cpc.sample_negatives": "draws integer indices (batch, length, ...); takes no tensor data",
    "pairs.losses.cpc.cpc_step_logits": "building block of cpc_loss on indices from sample_negatives (fuzzed "
    "through cpc_loss)",
    "pairs.losses.NegativeQueue": "a buffer of negatives (enqueue / read), not a loss; InfoNCELoss is fuzzed",
}


@dataclass
class Target:
    """One thing to fuzz: ``call(batch)`` on an input of ``domain``."""

    name: str
    domain: str  # image | temporal | audio | spectrogram | graph | text | loss
    call: Callable[[Any], Any]
    writes_nan: bool = False  # the view writes NaN on purpose (missing-value padding)
    is_view: bool = True  # a view (batch in, batch out) rather than a functional form
    keeps_dtype: bool = True  # float outputs have the input dtype (not for format conversions)
    int_to_float: bool = False  # integer images may come out as float (torchvision's ToDtype in a transform)
    loss_roles: dict[str, str] = field(default_factory=dict)  # loss targets: argument -> role
    optional: list[inspect.Parameter] = field(default_factory=list)  # settings a case may change
    with_options: Callable[[dict[str, Any]], Target] | None = None  # the target with those settings


def perturbed_options(params: list[inspect.Parameter], seed: int) -> dict[str, Any]:
    """Other values for about half of the optional numeric, boolean and ``reduction`` settings.

    Numbers are scaled up and down by large factors, set to 0 or negated (the constructors and losses must
    refuse what they cannot use, clearly); booleans are flipped; ``reduction`` is ``"sum"`` or ``"none"``.
    """
    rng = random.Random(seed)
    out: dict[str, Any] = {}
    for p in params:
        v = p.default
        if rng.random() < 0.5 or p.name in UNPERTURBED:
            continue
        if isinstance(v, bool):
            out[p.name] = not v
        elif p.name == "reduction":
            out[p.name] = rng.choice(["sum", "none"])
        elif isinstance(v, int):
            out[p.name] = rng.choice([0, 1, 2 * v + 1, 10 * v, -v])
        elif isinstance(v, float):
            out[p.name] = rng.choice([v * 10, v / 10, v * 1e3, v / 1e3, 0.0, -v])
        elif isinstance(v, tuple) and len(v) == 2 and all(isinstance(e, float) for e in v):
            f = rng.choice([0.5, 2.0, 10.0, 0.1])
            out[p.name] = (v[0] * f, v[1] * f)
    return out


UNPERTURBED = {"gather_distributed", "distributed", "chunk_size", "block_size", "n_fft", "hop_length"}
"""Settings left at their defaults: distributed gathering needs a process group; the rest tune speed."""


def _optional(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    sig = inspect.signature(fn)
    return [
        p
        for p in sig.parameters.values()
        if p.default is not p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"
    ]


# --------------------------------------------------------------------------------------------------
# Views: argument values by parameter name, per domain
# --------------------------------------------------------------------------------------------------
def _views(domain: str) -> Any:
    return importlib.import_module(f"pairs.views.{domain}")


def _a_view(domain: str) -> Any:
    """A plain view of the domain, for composites (Compose, RandomApply, OneOf, AudioCompose, MultiCrop)."""
    return {
        "image": lambda: _views("image").HorizontalFlip(),
        "temporal": lambda: _views("temporal").Scaling(),
        "audio": lambda: _views("audio").Gain(SR),
        "graph": lambda: _views("graph").DropEdges(),
        "text": lambda: _views("text").WordDropout(),
    }[domain]()


def _tv_transform() -> Any:
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomHorizontalFlip(), v2.ColorJitter(0.4, 0.4, 0.4)])


VIEW_ARGS: dict[str, dict[str, Callable[[], Any]]] = {
    "image": {
        "size": lambda: 8,
        "kernel_size": lambda: 3,
        "mean": lambda: (0.5, 0.5, 0.5),
        "std": lambda: (0.25, 0.25, 0.25),
        "transform": _tv_transform,
        "name": lambda: sorted(_views("image").RECIPES)[0],
        "global_size": lambda: 8,
        "local_size": lambda: 4,
        "n_local": lambda: 2,
        "global_view": lambda: _a_view("image"),
        "local_view": lambda: _a_view("image"),
    },
    "temporal": {"size": lambda: 0.5, "name": lambda: sorted(_views("temporal").RECIPES)[0]},
    "audio": {
        "sample_rate": lambda: SR,
        "length": lambda: 300,
        "max_width": lambda: 3,
        "views": lambda: [_a_view("audio")],
    },
    "graph": {},
    "text": {},
    # pairs.views itself (Compose, RandomApply, OneOf, Lambda) is fuzzed on series
    "base": {
        "views": lambda: [_a_view("temporal"), _views("temporal").Jitter()],
        "view": lambda: _a_view("temporal"),
        "fn": lambda: lambda x: x * 2,
    },
}

# functional forms: the parameter that receives the fuzzed data, and per-example amounts built from it
DATA_PARAMS = {"waveform": "audio", "signal": "audio", "x": "temporal", "text": "text", "graph": "graph"}
DATA_PARAMS_DATA = {"data": "graph"}


def _amount(low: float, high: float) -> Callable[[Any], Tensor]:
    def make(batch: Tensor) -> Tensor:
        n = batch.shape[0] if isinstance(batch, Tensor) and batch.dim() else 1
        g = torch.Generator().manual_seed(n)
        return low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)

    return make


FUNCTION_ARGS: dict[str, Callable[[Any], Any]] = {  # parameter name -> value built from the fuzzed batch
    "sample_rate": lambda batch: SR,
    "semitones": _amount(-4.0, 4.0),
    "rate": _amount(0.8, 1.25),
    "shift": lambda batch: _amount(-100.0, 100.0)(batch).round().long(),
    "db": _amount(-12.0, 12.0),
    "snr_db": _amount(0.0, 30.0),
    "cutoff_hz": _amount(100.0, 1500.0),
    "kind": lambda batch: "lowpass",
    "noise": lambda batch: (
        torch.randn(batch.shape, generator=torch.Generator().manual_seed(0)).to(batch.dtype)
        if isinstance(batch, Tensor) and batch.is_floating_point()
        else batch
    ),
    "positions": lambda batch: (
        torch.rand(batch.shape[0], 37, generator=torch.Generator().manual_seed(0)) * max(batch.shape[-1], 1)
        if isinstance(batch, Tensor) and batch.dim() >= 1
        else torch.zeros(1, 37)
    ),
    "edits": lambda batch: [],
    "like": lambda batch: _to_networkx(batch),
}


def _view_target(qualname: str, domain: str, view: Any) -> Target:
    nan = bool(getattr(view, "writes_nan", False))
    in_domain = "spectrogram" if domain == "audio" and getattr(view, "sample_ndim", None) == 3 else domain
    if domain == "audio" and isinstance(view, _views("audio").AudioView):
        return Target(qualname, in_domain, lambda x: view(x, 0, sample_rate=SR), writes_nan=nan)
    tv = isinstance(view, _views("image").TorchvisionView) if domain == "image" else False
    return Target(qualname, in_domain, lambda x: view(x, 0), writes_nan=nan, int_to_float=tv)


def _rebuilt_view(
    qual: str, domain: str, cls: type, required: dict[str, Any], options: dict[str, Any]
) -> Target:
    return _view_target(qual, domain, cls(**required, **options))


def _views_of(result: Any) -> list[Any]:
    """The views a factory returned: one view, a tuple of views (BYOL's pair), or a MultiCrop."""
    from pairs.views import View

    if isinstance(result, View) or type(result).__name__ == "MultiCrop":
        return [result]
    if isinstance(result, (tuple, list)) and result and all(isinstance(v, View) for v in result):
        return list(result)
    return []


def _required(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    sig = inspect.signature(fn)
    return [
        p
        for p in sig.parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"
    ]


def _discover_views(targets: list[Target], unfuzzable: dict[str, str]) -> None:
    from pairs.views import View

    seen: set[int] = set()
    for mod in public_modules("pairs.views"):
        prefix = mod.__name__
        if prefix in NOT_FUZZED:
            continue
        short = prefix.rsplit(".", 1)[-1]
        domain = "base" if prefix == "pairs.views" else MODULE_DOMAIN.get(short, short)
        if domain not in VIEW_ARGS:
            unfuzzable[prefix] = (
                "a view module with no input builder / argument table in tests/fuzz/targets.py"
            )
            continue
        names = [n for n in mod.__all__ if n not in VIEW_DOMAINS]
        for name in names:
            qual = f"{prefix}.{name}"
            obj = getattr(mod, name)
            if not callable(obj) or name == "Params" or id(obj) in seen:
                continue
            seen.add(id(obj))  # re-exports are fuzzed once, under their first public name
            if qual in NOT_FUZZED:
                continue
            args_table = VIEW_ARGS[domain]
            run_domain = "temporal" if domain == "base" else domain
            if inspect.isclass(obj):
                missing = [p.name for p in _required(obj.__init__) if p.name not in args_table]
                if missing:
                    unfuzzable[qual] = f"no value for constructor argument(s) {missing}"
                    continue
                required = {p.name: args_table[p.name]() for p in _required(obj.__init__)}
                view = obj(**required)
                if not (isinstance(view, View) or type(view).__name__ == "MultiCrop"):
                    unfuzzable[qual] = f"a {type(view).__name__} is neither a view nor a known data type"
                    continue
                target = _view_target(qual, run_domain, view)
                target.optional = _optional(obj.__init__)
                target.with_options = functools.partial(_rebuilt_view, qual, run_domain, obj, required)
                targets.append(target)
                continue
            params = _required(obj)
            data = [p.name for p in params if p.name in DATA_PARAMS or p.name in DATA_PARAMS_DATA]
            if data:  # a functional form: data in, data out
                missing = [
                    p.name
                    for p in params
                    if p.name not in data and p.name not in FUNCTION_ARGS and p.name not in args_table
                ]
                if missing:
                    unfuzzable[qual] = f"no value for argument(s) {missing}"
                    continue
                targets.append(_function_target(qual, domain, obj, params, data[0]))
                continue
            missing = [p.name for p in params if p.name not in args_table]
            if missing:
                unfuzzable[qual] = f"no value for factory argument(s) {missing}"
                continue
            made = _views_of(obj(**{p.name: args_table[p.name]() for p in params}))
            if not made:
                unfuzzable[qual] = "neither takes data nor returns views"
                continue
            for i, view in enumerate(made):
                targets.append(
                    _view_target(f"{qual}()" + (f"[{i}]" if len(made) > 1 else ""), run_domain, view)
                )


def _function_target(
    qual: str, domain: str, fn: Callable[..., Any], params: list[inspect.Parameter], data: str
):
    in_domain = DATA_PARAMS.get(data) or DATA_PARAMS_DATA[data]
    if data == "x" and domain != "temporal":
        in_domain = domain
    args_table = VIEW_ARGS.get(domain, {})

    def call(batch: Any) -> Any:
        if data == "signal":  # (N, L) rows
            batch = batch.flatten(0, -2) if isinstance(batch, Tensor) and batch.dim() >= 2 else batch
        if data == "text":
            batch = batch[0] if isinstance(batch, list) and batch else ""
        if data == "graph":
            batch = _to_networkx(batch)
        if data == "data":  # a graph made by from_networkx_graph, back to networkx
            from pairs.views.graph import from_networkx_graph

            like = _to_networkx(batch)
            batch = from_networkx_graph(like)
        kwargs = {}
        for p in params:
            if p.name == data:
                kwargs[p.name] = batch
            elif p.name in FUNCTION_ARGS:
                kwargs[p.name] = FUNCTION_ARGS[p.name](batch)
            else:
                kwargs[p.name] = args_table[p.name]()
        return fn(**kwargs)

    conversion = data in ("graph", "data")  # networkx <-> PyG: float32 features by definition
    return Target(qual, in_domain, call, is_view=False, keeps_dtype=not conversion)


def _to_networkx(batch: Any) -> Any:
    import networkx as nx

    g = nx.Graph()
    n = int(batch.num_nodes) if hasattr(batch, "num_nodes") and batch.num_nodes is not None else 0
    g.add_nodes_from(range(n))
    if hasattr(batch, "edge_index") and batch.edge_index is not None:
        g.add_edges_from(batch.edge_index.t().tolist())
    if getattr(batch, "x", None) is not None and batch.x.dim() == 2:
        for i in range(min(n, batch.x.shape[0])):
            g.nodes[i]["x"] = batch.x[i].tolist()
    return g


# --------------------------------------------------------------------------------------------------
# Losses: arguments by role
# --------------------------------------------------------------------------------------------------
EMBEDDING = "emb"  # (B, D), the fuzzed tensors
ROLE_BY_NAME: dict[str, str] = {
    **{
        n: EMBEDDING
        for n in (
            "z1",
            "z2",
            "p",
            "z",
            "a",
            "b",
            "x1",
            "x2",
            "anchor",
            "positive",
            "negative",
            "anchors",
            "positives",
            "embeddings",
            "features",
            "query",
            "x",
            "rows",
            "cols",
            "input",
            "h1",
            "h2",
        )
    },
    "negatives": "negatives",  # (K, D)
    "scores": "scores",  # (B, K)
    "similar": "similar",  # (B,) 0/1
    "labels": "labels",  # (B,) class ids
    "student_out": "crops",  # list of (B, K)
    "teacher_out": "crops",
    "center": "center",  # (K,)
    "predictions": "predictions",  # (S, B, T, D)
    "latents": "latents",  # (B, T, D)
    "prediction": "prediction",  # (B, T, D)
    "step": "step",
    "name": "name",
    "ndim": "ndim",
    "scale": "scale",
    "out_dim": "k",
    "size": "queue_size",
    "dim": "d",
}
SEQUENCE_LOSSES = ("hierarchical_contrastive_loss", "instance_contrastive_loss", "temporal_contrastive_loss")


def public_modules(package: str) -> list[Any]:
    """``package`` and its public submodules that declare ``__all__`` (their public names), package first."""
    pkg = importlib.import_module(package)
    mods = [pkg]
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            mod = importlib.import_module(f"{package}.{info.name}")
            if hasattr(mod, "__all__"):
                mods.append(mod)
    return mods


def _discover_losses(targets: list[Target], unfuzzable: dict[str, str]) -> None:
    seen: set[int] = set()
    for mod in public_modules("pairs.losses"):
        modname = mod.__name__
        for name in mod.__all__:
            qual = f"{modname}.{name}"
            obj = getattr(mod, name)
            if not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))  # re-exports are fuzzed once, under their first public name
            if qual in NOT_FUZZED:
                continue
            if inspect.isclass(obj):
                if not issubclass(obj, nn.Module):
                    unfuzzable[qual] = "a class that is not an nn.Module loss"
                    continue
                ctor = _required(obj.__init__)
                fwd = _required(obj.forward)
                missing = [p.name for p in ctor + fwd if p.name not in ROLE_BY_NAME]
                if missing:
                    unfuzzable[qual] = f"no role for argument(s) {missing}"
                    continue
                targets.append(_loss_target(qual, name, obj, ctor, fwd))
                continue
            params = _required(obj)
            missing = [p.name for p in params if p.name not in ROLE_BY_NAME]
            if missing:
                unfuzzable[qual] = f"no role for argument(s) {missing}"
                continue
            targets.append(_loss_target(qual, name, obj, [], params))


def _loss_target(qual: str, name: str, obj: Any, ctor: list, fwd: list) -> Target:
    sequence = name in SEQUENCE_LOSSES or name == "HierarchicalContrastiveLoss"
    roles = {p.name: ROLE_BY_NAME[p.name] for p in fwd}
    if sequence:
        roles = {k: ("latents" if v == EMBEDDING else v) for k, v in roles.items()}
    ctor_roles = {p.name: ROLE_BY_NAME[p.name] for p in ctor}
    all_roles = {**{f"__init__.{k}": v for k, v in ctor_roles.items()}, **roles}

    def target(options: dict[str, Any]) -> Target:
        def call(values: dict[str, Any]) -> Any:
            kwargs = {k: values[k] for k in roles}
            if inspect.isclass(obj):
                module = obj(**{k: values[f"__init__.{k}"] for k in ctor_roles}, **options)
                return module(**kwargs)
            return obj(**kwargs, **options)

        return Target(qual, "loss", call, loss_roles=all_roles, is_view=False)

    out = target({})
    out.optional = _optional(obj.__init__ if inspect.isclass(obj) else obj)
    out.with_options = target
    return out


DATA_ROLES = (EMBEDDING, "latents", "scores", "crops", "predictions", "prediction")


def loss_inputs(roles: dict[str, str], case: dict[str, Any]) -> dict[str, Any]:
    """Fuzzed values for every argument of one loss call, by role.

    The data arguments (embeddings, latents, scores, crops) carry the case's dtype, magnitude and layout;
    one of them, chosen by the seed, carries the special value (NaN/inf) when the case has one; with
    ``case["mixed"]`` the second data argument is in another float dtype.
    """
    b, d, k, t_len, steps = case["b"], case["d"], 4, 4, 2
    g = torch.Generator().manual_seed(case["seed"])
    data_args = [n for n, r in roles.items() if r in DATA_ROLES]
    special_at = data_args[case["seed"] % len(data_args)] if data_args else None
    mixed_at = data_args[1] if case.get("mixed") and len(data_args) > 1 else None
    values: dict[str, Any] = {}
    for argname, role in roles.items():
        c = case
        if argname == mixed_at and case["dtype"].is_floating_point:
            c = {**case, "dtype": torch.float64 if case["dtype"] != torch.float64 else torch.float32}
        special = argname == special_at

        def t(shape: tuple[int, ...], c: dict[str, Any] = c, special: bool = special) -> Tensor:
            return make_tensor(shape, c, g, special=special)

        values[argname] = {
            EMBEDDING: lambda: t((b, d)),
            "latents": lambda: t((b, t_len, d)),
            "prediction": lambda: t((b, t_len, d)),
            "predictions": lambda: t((steps, b, t_len, d)),
            "negatives": lambda: t((k, d), special=False),
            "scores": lambda: t((b, k)),
            "crops": lambda: [t((b, k)), t((b, k), special=False)],
            "center": lambda: torch.zeros(k),
            "similar": lambda: torch.randint(0, 2, (b,), generator=g),
            "labels": lambda: torch.randint(0, 3, (b,), generator=g),
            "step": lambda: 1,
            "name": lambda: "x",
            "ndim": lambda: 2,
            "scale": lambda: 1.0,
            "k": lambda: k,
            "d": lambda: d,
            "queue_size": lambda: 8,
        }[role]()
    return values


# --------------------------------------------------------------------------------------------------
# Tensors and view inputs
# --------------------------------------------------------------------------------------------------
def make_tensor(shape: tuple[int, ...], case: dict[str, Any], g: torch.Generator, *, special: bool) -> Tensor:
    """A tensor of ``shape`` with the case's dtype, magnitude, special value and memory layout."""
    dtype = case["dtype"]
    if dtype.is_floating_point:
        base = torch.randn(shape, generator=g, dtype=torch.float64)
        if case.get("unit"):  # images: values in [0, 1]
            base = torch.rand(shape, generator=g, dtype=torch.float64)
        x = base * magnitude(case["magnitude"])(dtype)
        x = x.clamp(-float(torch.finfo(dtype).max), float(torch.finfo(dtype).max)).to(dtype)
        if special and case["special"] and x.numel():
            flat = x.reshape(-1)
            flat[int(torch.randint(0, flat.numel(), (1,), generator=g))] = case["special"]
            x = flat.reshape(shape)
    else:
        info = torch.iinfo(dtype)
        x = torch.randint(
            max(info.min, -1000), min(info.max, 1000) + 1, shape, generator=g, dtype=torch.int64
        )
        x = x.to(dtype)
    if case["noncontiguous"] and x.dim() >= 1:
        wide = torch.zeros((*shape[:-1], 2 * shape[-1]), dtype=x.dtype)
        wide[..., ::2] = x
        x = wide[..., ::2]
    return x


def make_view_input(domain: str, case: dict[str, Any]) -> Any:
    """A fuzzed batch for a view of ``domain``."""
    g = torch.Generator().manual_seed(case["seed"])
    b = case["b"]
    rank_off = case["rank_off"]
    if domain == "text":
        return list(case["texts"][:b]) if not rank_off else (case["texts"][0] if case["texts"] else "")
    if domain == "graph":
        return make_graph_batch(case, g)
    shape = {
        "image": lambda: (b, case["c_image"], case["h"], case["w"]),
        "temporal": lambda: (b, case["c"], case["t"]),
        "audio": lambda: (b, case["c"], case["t_audio"]),
        "spectrogram": lambda: (b, case["c"], case["h"], case["t"]),
    }[domain]()
    x = make_tensor(shape, {**case, "unit": domain == "image"}, g, special=True)
    if rank_off == 1:
        x = x.unsqueeze(0)
    elif rank_off == -1 and x.dim() > 1:
        x = x[0] if x.shape[0] else x.new_zeros(x.shape[1:])  # one sample instead of a batch
    elif rank_off == -2:
        x = x.reshape(-1)
    return x


def make_graph_batch(case: dict[str, Any], g: torch.Generator) -> Any:
    from torch_geometric.data import Batch, Data

    rng = random.Random(case["seed"])
    graphs = []
    for _ in range(case["b"]):
        n = rng.choice([0, 1, 2, 3, 5, 8])
        e = rng.choice([0, 1, 3, 8]) if n else 0
        if n:
            src = torch.randint(0, n, (e,), generator=g)
            dst = torch.randint(0, n, (e,), generator=g)
            edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
        else:
            edge_index = torch.zeros(2, 0, dtype=torch.long)
        x = make_tensor((n, case["f"]), case, g, special=rng.random() < 0.5)
        graphs.append(Data(x=x, edge_index=edge_index, num_nodes=n))
    if not graphs:
        return []
    return Batch.from_data_list(graphs)


# --------------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------------
def discover() -> tuple[list[Target], dict[str, str]]:
    """All fuzz targets, and the public names that could not be turned into one (name -> why)."""
    targets: list[Target] = []
    unfuzzable: dict[str, str] = {}
    _discover_views(targets, unfuzzable)
    _discover_losses(targets, unfuzzable)
    return targets, unfuzzable


def magnitude(kind: str) -> Callable[[torch.dtype], float]:
    """The scale of a case's values for a dtype: ``unit``, ``tiny``, ``large`` or ``huge`` (near the max)."""

    def scale(dtype: torch.dtype) -> float:
        if not dtype.is_floating_point:
            return 1.0
        top = float(torch.finfo(dtype).max)
        return {
            "unit": 1.0,
            "tiny": 1e-30 if dtype in (torch.float32, torch.float64, torch.bfloat16) else 1e-4,
            "large": math.sqrt(top),
            "huge": top / 8,
        }[kind]

    return scale
