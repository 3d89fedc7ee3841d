"""--tensorboard: the scalars of metrics.jsonl and the projector embeddings, read back with TensorBoard's
own reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("tensorboard", reason='the optional tensorboard extra: pip install -e ".[tensorboard]"')


def test_tensorboard_scalars_equal_metrics_jsonl_and_projector_has_labels(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from pairs.experiment import train

    out = tmp_path / "run"
    report = train(
        "digits", epochs=2, out=str(out), progress=False, evaluate_untrained=False, log=None, tensorboard=True
    )
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    acc = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    steps = [r for r in rows if r["event"] == "step"]
    epochs = [r for r in rows if r["event"] == "epoch"]
    assert {"step/loss", "step/lr", "step/embedding_std", "step/effective_rank", "epoch/loss"} <= tags
    for tag, records, key in (
        ("step/loss", steps, "loss"),
        ("epoch/loss", epochs, "loss"),
        ("step/lr", steps, "lr"),
    ):
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [r["step"] for r in records]
        assert [e.value for e in events] == pytest.approx([r[key] for r in records], rel=1e-6)
    # projector: the held-out embeddings (digits' test split) with one label per row
    projector = out / "tensorboard" / "projector_config.pbtxt"
    assert projector.exists()
    folders = [p for p in (out / "tensorboard").rglob("tensors.tsv")]
    assert len(folders) == 1
    vectors = folders[0].read_text().strip().splitlines()
    labels = (folders[0].parent / "metadata.tsv").read_text().strip().splitlines()
    assert len(vectors) == len(labels) == 450
    assert len(vectors[0].split("\t")) == 128
    from pairs.data import load_data

    assert labels == [str(int(y)) for y in load_data("digits").test_labels]
    assert report["steps"] == rows[-1]["step"]
