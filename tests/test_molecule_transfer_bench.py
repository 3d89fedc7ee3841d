"""benchmarks/bench_molecule_transfer.py end to end in its --quick mode (slow; needs the molecules extra)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_molecule_transfer_runs_every_set_and_reports(capsys, one_thread):
    from pairs.data.molecules import moleculenet_file, moses_file
    from pairs.errors import DependencyError

    try:
        moleculenet_file("bbbp"), moses_file()
    except DependencyError as err:
        pytest.skip(str(err))
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_molecule_transfer import SETS, main

    out = main(["--quick"])
    figures = out["figures"]
    assert sorted(figures) == sorted(SETS)
    for arms in figures.values():
        assert [len(arms["pretrained"]), len(arms["scratch"])] == [2, 2]  # --quick: 2 seeds
    # two epochs of fine-tuning already rank molecules better than chance on the mean over the sets
    assert out["scratch"] > 55.0 and out["pretrained"] > 55.0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("RESULT ")]
    record = json.loads(lines[-1][len("RESULT ") :])
    assert record["benchmark"] == "molecule_transfer"
    assert record["ours"] == round(out["pretrained"], 2) and record["anchor"] == round(out["scratch"], 2)
    assert record["passes"] == (record["gap"] > max(record["std_pretrained"], record["std_scratch"]))
