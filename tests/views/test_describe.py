"""The parameters a preview shows are the ones the view used (pairs.views.describe, pairs preview)."""

from __future__ import annotations

import re
import sys

import pytest
import torch

from pairs.views import audio as av
from pairs.views import image as iv
from pairs.views import text as tv
from pairs.views.base import Compose, OneOf, RandomApply
from pairs.views.describe import describe, example_params


def _mutag(n: int = 6):
    from pairs.data import load_data
    from pairs.data.graph_collate import collate_for

    bundle = load_data("tu:MUTAG")
    return collate_for(bundle)([bundle.train[i] for i in range(n)])


def test_dropped_nodes_listed_are_exactly_the_nodes_absent_from_the_view() -> None:
    from pairs.domains.graph import view_node_origin
    from pairs.views.graph import DropNodes, PerturbEdges, RandomWalkSubgraph

    batch = _mutag()
    view = OneOf([DropNodes(0.3), RandomWalkSubgraph(0.3), PerturbEdges(0.3)])
    out, params = view(batch, torch.Generator().manual_seed(4), return_params=True)
    kinds = set()
    for i in range(batch.num_graphs):
        source, got = batch.get_example(i), out.get_example(i)
        steps = example_params(view, params, batch, i)
        origin, changes = view_node_origin(steps, int(source.num_nodes))
        kinds.add(steps[0].name)
        # the view's node j is source node origin[j]: same features, and the edges map onto source edges
        assert torch.equal(got.x, source.x[origin])
        src_edges = {tuple(e) for e in source.edge_index.t().tolist()}
        view_edges = {(int(origin[a]), int(origin[b])) for a, b in got.edge_index.t().tolist()}
        kept = set(origin.tolist())
        absent = sorted(set(range(int(source.num_nodes))) - kept)
        assert changes["dropped"] == absent
        inside = {e for e in src_edges if e[0] in kept and e[1] in kept}
        assert set(changes["removed"]) == inside - view_edges
        assert set(changes["added"]) == view_edges - inside
        line = describe(view, params, batch, i)[0]
        if steps[0].name == "DropNodes":
            listed = [int(v) for v in re.findall(r"\d+", line.split("dropped nodes")[1])]
            assert listed == absent and absent
        if steps[0].name == "PerturbEdges":
            assert changes["removed"] and changes["added"]
    assert kinds == {"DropNodes", "RandomWalkSubgraph", "PerturbEdges"}


def test_semitones_and_skipped_steps_are_those_of_the_draw() -> None:
    view = Compose(
        [
            RandomApply(av.PitchShift(16000, semitones=(-3.0, 3.0)), p=0.5),
            av.Gain(16000, db=(-6.0, 6.0)),
        ]
    )
    x = torch.randn(8, 1, 1600) * 0.1
    _, params = view(x, torch.Generator().manual_seed(1), return_params=True)
    applied = params["views"][0]["applied"]
    semitones = params["views"][0]["params"]["semitones"]
    assert 0 < int(applied.sum()) < 8  # some examples skipped, some shifted
    rank = 0
    for i in range(8):
        lines = describe(view, params, x, i)
        assert lines[-1] == f"Gain: {float(params['views'][1]['db'][i]):+.1f} dB"
        if applied[i]:
            assert lines[0] == f"PitchShift: {float(semitones[rank]):+.1f} semitones"  # its own draw
            rank += 1
        else:
            assert len(lines) == 1


def test_swapped_words_and_crop_span_are_the_edits_made() -> None:
    texts = ["the quick brown fox jumps over the lazy dog", "a b c d e f g h"]
    swap = tv.RandomSwap(alpha=0.3)
    out, params = swap(texts, torch.Generator().manual_seed(2), return_params=True)
    for i, text in enumerate(texts):
        (line,) = describe(swap, params, texts, i)
        pairs = re.findall(r"([^\s,]+)→([^\s,]+)", line)
        assert pairs == [(e.old.strip(), e.new.strip()) for e in params["edits"][i]]
        for old, new in pairs:  # each named swap is a real change between the original and the view
            assert old in text.split() and new in out[i].split()
    crop = tv.SpanCrop((0.3, 0.6))
    out, params = crop(texts, torch.Generator().manual_seed(3), return_params=True)
    for i, text in enumerate(texts):
        first, last, total = map(int, re.findall(r"\d+", describe(crop, params, texts, i)[0]))
        assert total == len(text.split())
        assert " ".join(text.split()[first - 1 : last]) == out[i].strip()


def test_crop_bounds_are_the_boxes_cut() -> None:
    view = iv.RandomResizedCrop(8, scale=(0.2, 0.5))
    x = torch.rand(3, 1, 16, 16)
    _, params = view(x, torch.Generator().manual_seed(0), return_params=True)
    for i in range(3):
        top, left, h, w = (int(v) for v in params["boxes"][i])
        assert describe(view, params, x, i) == [
            f"RandomResizedCrop: rows {top}-{top + h - 1}, cols {left}-{left + w - 1}"
        ]


def test_describe_changes_nothing_and_refuses_a_missing_example() -> None:
    view = iv.simclr_view(size=8)
    x = torch.rand(4, 3, 8, 8)
    out, params = view(x, torch.Generator().manual_seed(0), return_params=True)
    describe(view, params, x, 2)
    assert torch.equal(view.replay(x, params), out)
    with pytest.raises(IndexError, match="out of range"):
        example_params(view, params, x, 4)


@pytest.mark.parametrize("spec", ["digits", "ucr:GunPoint", "tu:MUTAG", "text:polarity", "speech", "images"])
def test_previews_draw_on_a_figure_without_pyplot(spec: str, tmp_path, monkeypatch) -> None:
    """Every domain's preview writes a PNG through matplotlib.figure.Figure: the backend is never switched
    and no figure is left registered with pyplot (networkx's drawing imports pyplot itself, we never
    open a pyplot figure)."""
    import matplotlib

    from pairs.experiment import preview

    if spec == "images":
        from PIL import Image

        for k in range(3):
            (tmp_path / "pics" / f"kind{k}").mkdir(parents=True)
            for j in range(2):
                Image.new("RGB", (20, 20), (80 * k, 40 * j, 90)).save(
                    tmp_path / "pics" / f"kind{k}" / f"{j}.png"
                )
        spec = f"images:{tmp_path / 'pics'}@16"
    backend = matplotlib.get_backend()
    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: pytest.fail("preview switched the backend"))
    out = preview(spec, n=3, n_views=2, out=str(tmp_path / "p.png"))
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == backend
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


def test_pick_rows_takes_one_item_of_each_class_first() -> None:
    from pairs.domains.preview import pick_rows

    labels = torch.tensor([0, 0, 0, 1, 1, 2, 0])
    assert pick_rows(labels, 5, 7) == [0, 3, 5, 1, 4]
    assert pick_rows(None, 3, 7) == [0, 1, 2]
    assert pick_rows(labels, 10, 7) == [0, 3, 5, 1, 4, 2, 6]
