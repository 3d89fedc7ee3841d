"""Fuzz every public view, functional form and loss (found by :func:`tests.fuzz.targets.discover`).

Each case draws an odd shape (empty batches, size-1 and odd dimensions, a rank off by one), a dtype (float16,
bfloat16, float32, float64 or an integer type), a magnitude (unit, 1e-30, sqrt of the dtype's max, an eighth
of its max), an optional NaN/+inf/-inf entry, a non-contiguous layout, for losses mixed float dtypes, and in a
third of the cases other values for the optional settings of the view or loss (scaled, zeroed, negated,
flipped; a constructor may refuse them, clearly).
The contract, checked on every case:

* either the call refuses the input with a ``PairsError``, ``ValueError`` or ``TypeError`` raised by the
  library's own checks (the innermost frame is in ``pairs/``, not deep inside torch) with a message;
* or it returns outputs of the expected batch size and dtype (views: the input dtype; losses: the input
  dtype, float32 for half precision) that are finite whenever the input was finite (a view that writes NaN
  padding on purpose, ``writes_nan``, may return NaN, never inf).

The default run fuzzes a fast sample (a few cases per target); ``-m slow`` runs at least 20,000 cases. The
counts (cases per outcome, failures by kind) are printed in the terminal summary (see ``conftest.py``).
"""

from __future__ import annotations

import math
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pairs
from pairs.errors import PairsError
from tests.fuzz.targets import (
    CHOICES,
    COUNTS,
    FAILURES,
    VIEW_DOMAINS,
    Target,
    discover,
    loss_inputs,
    make_view_input,
    perturbed_options,
)

TARGETS, UNFUZZABLE = discover()
FAST_EXAMPLES = 3
SLOW_TOTAL = 20_000
SLOW_EXAMPLES = math.ceil(SLOW_TOTAL / max(len(TARGETS), 1)) + 1

PAIRS_DIR = str(Path(pairs.__file__).resolve().parent)

TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "   ",
            "The quick brown fox jumps over the lazy dog.",
            "Don't stop: it's well-known, isn't it?",
            "Fish &amp; chips <b>Hello</b> <a href='x'>world</a> &#39;now&#39;",
            "ÉLAN — naïve café, 東京 and Ωmega\n\tnew line",
            "a " * 60,
        ]
    ),
)


def cases() -> st.SearchStrategy[dict[str, Any]]:
    """One fuzz case: shapes, dtype, magnitude, special value and layout (the choices of :data:`CHOICES`)."""
    return st.fixed_dictionaries(
        {
            "seed": st.integers(0, 2**31 - 1),
            **{k: st.sampled_from(v) for k, v in CHOICES.items()},
            "texts": st.lists(TEXTS, min_size=5, max_size=5),
        }
    )


# --------------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------------
class ContractViolation(AssertionError):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"[{kind}] {detail}")
        self.kind = kind


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    if hasattr(value, "x") and hasattr(value, "edge_index"):  # a PyG Data / Batch
        return [t for t in (getattr(value, "x", None), getattr(value, "edge_attr", None)) if t is not None]
    return []


def _finite(ts: list[torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in ts if t.is_floating_point())


def _raised_by_library(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(PAIRS_DIR)


def _batch_size(value: Any) -> int | None:
    if isinstance(value, torch.Tensor):
        return int(value.shape[0]) if value.dim() else None
    if hasattr(value, "num_graphs"):
        return int(value.num_graphs)
    if isinstance(value, list):
        return len(value)
    if isinstance(value, tuple) and value:
        return _batch_size(value[0])
    return None


def _check_view_output(target: Target, inp: Any, out: Any) -> None:
    ins, outs = _tensors(inp), _tensors(out)
    in_float = [t for t in ins if t.is_floating_point()]
    if _finite(ins):
        bad = [t for t in outs if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if target.writes_nan:
            bad = [t for t in bad if bool(torch.isinf(t).any())]
        if bad:
            raise ContractViolation("non-finite output from finite input", f"{target.name}: {bad[0].dtype}")
    if not target.keeps_dtype:
        pass
    elif in_float:
        want = in_float[0].dtype
        wrong = [t.dtype for t in outs if t.is_floating_point() and t.dtype != want]
        if wrong:
            raise ContractViolation("dtype changed", f"{target.name}: {want} in, {wrong[0]} out")
    elif ins and any(t.is_floating_point() for t in outs) and not target.int_to_float:
        raise ContractViolation("dtype changed", f"{target.name}: {ins[0].dtype} in, float out")
    if not target.is_view:
        return
    if target.domain in ("image", "temporal", "audio", "spectrogram") and isinstance(inp, torch.Tensor):
        first = out[0] if isinstance(out, tuple) and not hasattr(out, "_fields") else out
        if hasattr(out, "_fields"):  # OverlappingCrops' CropPair
            first = out[0]
        if isinstance(first, torch.Tensor) and first.dim() == inp.dim() and first.shape[0] != inp.shape[0]:
            raise ContractViolation(
                "batch size changed", f"{target.name}: {tuple(inp.shape)} -> {tuple(first.shape)}"
            )
    elif target.domain in ("graph", "text") and not isinstance(inp, (str, torch.Tensor)):
        n_in, n_out = _batch_size(inp), _batch_size(out)
        if n_in is not None and n_out is not None and n_in != n_out and not isinstance(out, str):
            raise ContractViolation("batch size changed", f"{target.name}: {n_in} -> {n_out}")


def _check_loss_output(target: Target, values: dict[str, Any], out: Any) -> None:
    ins = [t for t in _tensors(values) if t.is_floating_point()]
    outs = [t for t in _tensors(out) if t.is_floating_point()]
    if _finite(ins) and not _finite(outs):
        raise ContractViolation("non-finite output from finite input", target.name)
    if ins and outs:  # the loss (the first output; CPC adds accuracies) in the input dtype, half -> float32
        dt = ins[0].dtype
        half = (torch.float16, torch.bfloat16)
        allowed = {t.dtype for t in ins} | {torch.float32 for t in ins if t.dtype in half}
        if outs[0].dtype not in allowed:
            raise ContractViolation("dtype changed", f"{target.name}: {dt} in, {outs[0].dtype} out")


def _check_refusal(target: Target, exc: BaseException) -> None:
    """A refusal must come from the library's own checks (not deep inside torch) and carry a message."""
    if not _raised_by_library(exc):
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise ContractViolation(
            f"unclear {type(exc).__name__} from outside pairs",
            f"{target.name}: {where.filename}:{where.lineno}: {exc}",
        ) from exc
    if len(str(exc).strip()) < 15:
        raise ContractViolation("error without a message", f"{target.name}: {exc!r}") from exc


def run_case(target: Target, case: dict[str, Any]) -> str:
    """Run one case and check the contract; returns the outcome kind (``ok`` or ``refused:<Error>``)."""
    if case.get("options") and target.with_options is not None:
        options = perturbed_options(target.optional, case["seed"])
        try:
            target = target.with_options(options)
        except (PairsError, ValueError, TypeError) as exc:  # a setting the constructor refuses, clearly
            _check_refusal(target, exc)
            return f"refused ({type(exc).__name__})"
        except Exception as exc:  # noqa: BLE001
            raise ContractViolation(
                f"crash {type(exc).__name__}", f"{target.name}({options}): {exc}"
            ) from exc
    if target.domain == "loss":
        inp: Any = loss_inputs(target.loss_roles, case)
    else:
        inp = make_view_input(target.domain, case)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = target.call(inp)
    except (PairsError, ValueError, TypeError) as exc:
        _check_refusal(target, exc)
        return f"refused ({type(exc).__name__})"
    except Exception as exc:  # noqa: BLE001 - every other exception breaks the contract
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise ContractViolation(
            f"crash {type(exc).__name__}", f"{target.name}: {where.filename}:{where.lineno}: {exc}"
        ) from exc
    if target.domain == "loss":
        _check_loss_output(target, inp, out)
    else:
        _check_view_output(target, inp, out)
    return "ok"


def _fuzz(target: Target, case: dict[str, Any]) -> None:
    try:
        outcome = run_case(target, case)
    except ContractViolation as v:
        FAILURES[v.kind] += 1
        COUNTS["contract violated"] += 1
        raise
    COUNTS[outcome] += 1


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------
def test_every_public_target_is_fuzzed() -> None:
    """Every exported view, functional form and loss became a target (or is listed as taking no data)."""
    assert not UNFUZZABLE, "public names the fuzzer cannot feed (extend tests/fuzz/targets.py): " + "; ".join(
        f"{k}: {v}" for k, v in sorted(UNFUZZABLE.items())
    )
    domains = {t.name.split(".")[2] for t in TARGETS if t.name.startswith("pairs.views.")}
    assert set(VIEW_DOMAINS) <= domains
    names = {t.name for t in TARGETS}
    for must in ("pairs.views.audio.PitchShift", "pairs.views.audio.pitch_shift", "pairs.losses.nt_xent"):
        assert must in names


def test_discovery_finds_a_new_view_without_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """A view added to a domain module's ``__all__`` is fuzzed with nobody adding it to a list, and one
    whose arguments the fuzzer cannot fill is reported."""
    from pairs.views import temporal

    class Doubling(temporal.SeriesView):
        def sample(self, batch, generator):
            return {}

        def apply(self, batch, params):
            return batch * 2

    class NeedsAThing(temporal.SeriesView):
        def __init__(self, thing: object) -> None:
            self.thing = thing

    monkeypatch.setattr(temporal, "Doubling", Doubling, raising=False)
    monkeypatch.setattr(temporal, "NeedsAThing", NeedsAThing, raising=False)
    monkeypatch.setattr(temporal, "__all__", [*temporal.__all__, "Doubling", "NeedsAThing"])
    targets, unfuzzable = discover()
    assert "pairs.views.temporal.Doubling" in {t.name for t in targets}
    assert "thing" in unfuzzable["pairs.views.temporal.NeedsAThing"]


def test_contract_checker_catches_violations() -> None:
    """The checker itself: a view returning NaN from finite input, a torch crash, and a changed dtype are
    each reported as a violation (so a passing fuzz run means something)."""

    def case() -> dict[str, Any]:
        return {
            "seed": 0,
            "b": 2,
            "c": 1,
            "t": 8,
            "dtype": torch.float32,
            "magnitude": "unit",
            "special": None,
            "noncontiguous": False,
            "rank_off": 0,
        }

    bad = {
        "non-finite output from finite input": lambda x: x * float("nan"),
        "crash RuntimeError": lambda x: x @ torch.ones(3, 3),
        "dtype changed": lambda x: x.double(),
        "batch size changed": lambda x: x[:1],
    }
    for kind, fn in bad.items():
        with pytest.raises(ContractViolation, match=rf"^\[{kind}\]"):
            run_case(Target("bad", "temporal", fn), case())
    assert run_case(Target("good", "temporal", lambda x: x * 2), case()) == "ok"


def _ids(t: Target) -> str:
    return t.name.replace("pairs.", "")


@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@settings(
    max_examples=FAST_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(case=cases())
def test_fuzz_sample(target: Target, case: dict[str, Any]) -> None:
    _fuzz(target, case)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS, ids=_ids)
@settings(max_examples=SLOW_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=cases())
def test_fuzz_full(target: Target, case: dict[str, Any]) -> None:
    _fuzz(target, case)


@pytest.mark.slow
def test_fuzz_full_ran_enough_cases() -> None:
    """After the full run (it comes first in this file): at least 20,000 cases ran."""
    total = sum(COUNTS.values())
    assert total >= SLOW_TOTAL, f"only {total} fuzz cases ran (run the whole file with -m slow)"
