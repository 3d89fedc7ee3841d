"""Results out of a run: load_encoder (bit-for-bit features per domain), embed, search, anomaly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import pairs
from pairs.data import load_data
from pairs.domains import recipe_for
from pairs.errors import CheckpointError, ConfigError, DataError
from pairs.experiment import build_model
from pairs.pairing import ViewLoader
from pairs.results import anomaly, embed, encode_items, open_items, search
from pairs.train import TrainConfig, Trainer


def train_tiny(spec: str, out: Path, steps: int = 2, batch_size: int = 16) -> tuple[torch.nn.Module, object]:
    """A few optimizer steps of the domain's default method, saved as `pairs train` saves a run."""
    bundle = load_data(spec)
    recipe = recipe_for(bundle)
    model, extra = build_model(bundle, recipe, seed=0)
    extra.update({"views": recipe.default_view, "batch_size": batch_size})
    loader = ViewLoader(
        bundle.train,
        recipe.make_view(None, bundle),
        n_views=model.n_views,
        batch_size=min(batch_size, len(bundle.train)),
        seed=0,
        collate=recipe.collate,
    )
    config = TrainConfig(epochs=1, max_steps=steps, lr=1e-3, out_dir=str(out), progress=False, device="cpu")
    Trainer(model, config, extra_state=extra).fit(loader)
    return model, bundle


def run_features(model: torch.nn.Module, bundle: object, spec: str) -> torch.Tensor:
    """The train split's features exactly as the run's evaluation computes them."""
    from pairs.eval import extract_features

    if bundle.domain == "series":
        from pairs.domains.series import encode_series, ts2vec_standardizer

        return encode_series(model.encoder, bundle.train, ts2vec_standardizer(bundle))
    if bundle.domain == "graph":
        from pairs.data.graph_collate import collate_for
        from pairs.domains.graph import encode_graphs

        return encode_graphs(model.encoder, list(bundle.train), collate_for(bundle))
    return extract_features(model.encoder, bundle.train)


DOMAIN_SPECS = ["digits", "ucr:GunPoint", "tu:MUTAG", "text:polarity"]
if Path("/usr/share/pocketsphinx/test/data").is_dir():
    DOMAIN_SPECS.append("speech")


@pytest.mark.parametrize("spec", DOMAIN_SPECS)
def test_load_encoder_reproduces_run_features_bit_for_bit(
    spec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pairs.results.loading import RunInfo

    model, bundle = train_tiny(spec, tmp_path / "run")
    expected = run_features(model, bundle, spec)

    def no_training_data(self: RunInfo) -> None:
        raise AssertionError("load_encoder read the training data; the checkpoint should hold what it needs")

    monkeypatch.setattr(RunInfo, "bundle", no_training_data)
    encoder = pairs.load_encoder(tmp_path / "run")
    assert not encoder.training
    assert encoder.preprocess.domain == bundle.domain
    got = encode_items(encoder, open_items(spec, "train"))
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert torch.equal(got, expected)
    # the weights are the trained ones, not a fresh initialisation with the same seed
    fresh, _ = build_model(bundle, recipe_for(bundle), seed=0)
    assert not torch.equal(run_features(fresh, bundle, spec), expected)


def test_series_run_loads_without_its_training_file(tmp_path: Path) -> None:
    # the normalisation statistics travel in the checkpoint: the run works after its data file is gone
    from pairs.domains.series import ts2vec_standardizer

    g = np.random.default_rng(0)
    x = (g.normal(size=(40, 2, 24)) * [[3.0], [0.5]] + [[10.0], [-2.0]]).astype(np.float32)
    np.save(tmp_path / "mine.npy", x)
    spec = f"series:{tmp_path / 'mine.npy'}"
    model, bundle = train_tiny(spec, tmp_path / "run")
    fitted = ts2vec_standardizer(bundle)
    extra = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["extra"]
    assert torch.equal(torch.tensor(extra["standardizer"]["mean"], dtype=torch.float64), fitted.mean)
    assert torch.equal(torch.tensor(extra["standardizer"]["std"], dtype=torch.float64), fitted.std)
    expected = run_features(model, bundle, spec)
    (tmp_path / "mine.npy").unlink()
    encoder = pairs.load_encoder(tmp_path / "run")
    batch = encoder.preprocess(torch.from_numpy(x))
    assert torch.allclose(batch.mean(dim=(0, 2)), torch.zeros(2, dtype=batch.dtype), atol=1e-5)
    with torch.no_grad():
        got = encoder(batch)
    assert torch.equal(got, expected)


def test_preprocess_takes_raw_inputs_of_each_kind(tmp_path: Path) -> None:
    from PIL import Image

    train_tiny("digits", tmp_path / "run")
    encoder = pairs.load_encoder(tmp_path / "run")
    x = load_data("digits").train[:3]  # (3, 1, 8, 8) in [0, 1]
    batch = encoder.preprocess(x)
    assert torch.equal(batch, x)
    assert torch.equal(encoder.preprocess(x[0]), x[:1])  # one (C, H, W) image
    assert torch.equal(encoder.preprocess(x[0, 0].numpy()), x[:1])  # one (H, W) array
    paths = []
    for i in range(2):  # an 8x8 grey PNG reads back to the same pixels (to 1/255)
        arr = (x[i, 0].numpy() * 255).round().astype(np.uint8)
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(arr, mode="L").save(paths[-1])
    files = encoder.preprocess([str(p) for p in paths])
    assert files.shape == (2, 1, 8, 8)
    assert torch.allclose(files, x[:2], atol=1 / 255 + 1e-6)
    with torch.no_grad():
        z = encoder(encoder.preprocess(paths[0]))
    assert z.shape == (1, encoder.out_dim)
    with pytest.raises(DataError, match="1-channel"):
        encoder.preprocess(torch.rand(2, 3, 8, 8))
    with pytest.raises(DataError, match="cannot read image"):
        encoder.preprocess(str(tmp_path / "missing.png"))


def test_load_method_returns_eval_mode_method_and_errors_are_checkpoint_errors(tmp_path: Path) -> None:
    train_tiny("digits", tmp_path / "run")
    method = pairs.load_method(tmp_path / "run")
    assert type(method).__name__ == "SimCLR" and not method.training
    assert hasattr(method.encoder, "preprocess")
    with pytest.raises(CheckpointError, match="no checkpoint.pt"):
        pairs.load_encoder(tmp_path)
    torch.save({"format": "pairs-checkpoint-v1", "method": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not written by `pairs train`"):
        pairs.load_encoder(tmp_path / "other.pt")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("digits") / "run"
    train_tiny("digits", out, steps=10, batch_size=128)
    return out


def test_search_top1_agreement_equals_the_runs_1nn_accuracy(digits_run: Path) -> None:
    from pairs.eval import extract_features, knn_accuracy

    bundle = load_data("digits")
    encoder = pairs.load_encoder(digits_run)
    train = extract_features(encoder, bundle.train)
    test = extract_features(encoder, bundle.test)
    one_nn = knn_accuracy(train, bundle.train_labels, test, bundle.test_labels, k=1)
    found = search(digits_run, "digits", "digits", k=5, index_split="train", query_split="test")
    assert found["top1_label_agreement"] == pytest.approx(one_nn, abs=0)
    first = found["results"][0]
    assert first["query"] == "digits:test:0" and len(first["neighbors"]) == 5
    scores = [nb["score"] for nb in first["neighbors"]]
    assert scores == sorted(scores, reverse=True)
    # the neighbour ids are the train items closest by cosine
    t = torch.nn.functional.normalize(train, dim=1)
    q = torch.nn.functional.normalize(test[:1], dim=1)
    best = (q @ t.T).topk(5).indices[0].tolist()
    assert [nb["id"] for nb in first["neighbors"]] == [f"digits:train:{i}" for i in best]


def test_saved_index_is_reused_and_faiss_recall(digits_run: Path) -> None:
    first = search(
        digits_run, "digits", "digits", k=10, index_split="train", query_split="test", save_index=True
    )
    folder = Path(first["index_saved"])
    assert (folder / "vectors.npy").exists() and folder.parent.parent == digits_run
    again = search(digits_run, "digits", "digits", k=10, index_split="train", query_split="test")
    assert again["index_saved"] == str(folder)  # read back, not rebuilt
    assert [r["neighbors"] for r in again["results"]] == [r["neighbors"] for r in first["results"]]
    pytest.importorskip("faiss", reason='the optional faiss extra: pip install -e ".[faiss]"')
    approx = search(
        digits_run, "digits", "digits", k=10, index_split="train", query_split="test", backend="faiss"
    )
    hits = sum(
        len({n["id"] for n in a["neighbors"]} & {n["id"] for n in e["neighbors"]})
        for a, e in zip(approx["results"], first["results"])
    )
    assert hits / (10 * len(first["results"])) > 0.95


def test_anomaly_roc_auc_and_scores_match_the_eval_functions(digits_run: Path, tmp_path: Path) -> None:
    from pairs.eval import knn_anomaly_score, mahalanobis_anomaly_score, roc_auc

    bundle = load_data("digits")
    encoder = pairs.load_encoder(digits_run)
    normal = bundle.train_labels != 7
    from pairs.eval import extract_features

    ref = extract_features(encoder, bundle.train[normal])
    test = extract_features(encoder, bundle.test)
    is_anomaly = (bundle.test_labels == 7).long()
    report = anomaly(digits_run, "digits", "digits", anomaly_labels=["7"], out=tmp_path / "s.npy")
    expected = knn_anomaly_score(ref, test, k=5)
    assert torch.allclose(report["scores"].float(), expected, atol=1e-5)
    assert report["roc_auc"] == pytest.approx(roc_auc(expected, is_anomaly), abs=1e-3)
    assert report["n_reference"] == int(normal.sum()) and report["n_anomalies"] == int(is_anomaly.sum())
    saved = np.load(tmp_path / "s.npy")
    assert saved.shape == (len(bundle.test),)
    rows = [json.loads(line) for line in (tmp_path / "s.items.jsonl").read_text().splitlines()]
    assert rows[3] == {"id": "digits:test:3", "label": int(bundle.test_labels[3])}
    maha = anomaly(digits_run, "digits", "digits", anomaly_labels=[7], score="mahalanobis")
    assert torch.allclose(maha["scores"], mahalanobis_anomaly_score(ref, test).double(), rtol=1e-4)


def test_embed_npy_and_parquet(digits_run: Path, tmp_path: Path) -> None:
    encoder = pairs.load_encoder(digits_run)
    expected = encode_items(encoder, open_items("digits"))
    info = embed(digits_run, "digits", tmp_path / "e.npy", batch_size=100)
    assert info["shape"] == [1797, encoder.out_dim]
    assert np.allclose(np.load(tmp_path / "e.npy"), expected.numpy(), atol=1e-6)  # other batch size
    lines = (tmp_path / "e.items.jsonl").read_text().splitlines()
    assert json.loads(lines[1347]) == {
        "id": "digits:test:0",
        "label": int(load_data("digits").test_labels[0]),
    }
    pytest.importorskip("pyarrow", reason='the optional parquet extra: pip install -e ".[parquet]"')
    import pyarrow.parquet as pq

    embed(digits_run, "digits", tmp_path / "e.parquet", split="test")
    table = pq.read_table(tmp_path / "e.parquet")
    assert table.column("id").to_pylist()[:2] == ["digits:test:0", "digits:test:1"]
    vectors = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    assert np.allclose(vectors, expected[1347:].numpy(), atol=1e-6)


def test_embed_per_step_for_series(tmp_path: Path) -> None:
    train_tiny("ucr:GunPoint", tmp_path / "run")
    info = embed(tmp_path / "run", "ucr:GunPoint", tmp_path / "steps.npy", split="test", mode="per_step")
    arr = np.load(tmp_path / "steps.npy")
    assert arr.shape == tuple(info["shape"]) and arr.shape[:2] == (150, 150)
    pooled = np.load(tmp_path / "steps.npy").max(axis=1)  # TS2Vec pools by max over time
    embed(tmp_path / "run", "ucr:GunPoint", tmp_path / "pooled.npy", split="test")
    assert np.allclose(pooled, np.load(tmp_path / "pooled.npy"), atol=1e-6)


def test_per_step_without_steps_is_a_config_error(digits_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="per-step"):
        embed(digits_run, "digits", tmp_path / "x.npy", mode="per_step")


def _cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """Run the `pairs` command in this process: ``(exit code, stdout, stderr)``."""
    from pairs.cli import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_bad_inputs_are_one_line_exit_2(digits_run: Path, tmp_path: Path, capsys) -> None:
    bad_query = tmp_path / "bad.npy"
    bad_query.write_text("not an array")
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)  # parses only with pickle
    search_digits = ["search", "--checkpoint", str(digits_run), "--index", "digits", "--query"]
    x_npy = str(tmp_path / "x.npy")
    cases = {
        "no checkpoint": ["search", "--checkpoint", str(tmp_path), "--index", "digits", "--query", "digits"],
        "other domain": ["embed", "--checkpoint", str(digits_run), "--data", "ucr:GunPoint", "--out", x_npy],
        "query file": [*search_digits, str(bad_query)],
        "object array": [*search_digits, str(objects)],
        "k=0": [*search_digits, "digits", "-k", "0"],
    }
    messages = {
        "no checkpoint": "no checkpoint.pt",
        "other domain": "takes image data, but 'ucr:GunPoint' is series data",
        "query file": "is not a .npy file",
        "object array": "not a readable .npy array (Object arrays cannot be loaded",
        "k=0": "must be a positive integer",
    }
    for name, argv in cases.items():
        code, _, err = _cli(capsys, *argv)
        assert code == 2, (name, err)
        assert len(err.strip().splitlines()) == 1, (name, err)
        assert messages[name] in err, (name, err)


def test_cli_search_json_lines(digits_run: Path, capsys) -> None:
    code, out, err = _cli(
        capsys,
        "search",
        "--checkpoint",
        str(digits_run),
        "--index",
        "digits",
        "--index-split",
        "train",
        "--query",
        "digits",
        "--query-split",
        "test",
        "-k",
        "3",
        "--json",
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert len(lines) == 451 and len(lines[0]["neighbors"]) == 3
    assert lines[-1]["n_queries"] == 450 and "top1_label_agreement" in lines[-1]


def test_report_png_from_the_cli(digits_run: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    from pairs.results.report import read_metrics, run_figures

    code, out, err = _cli(capsys, "report", str(digits_run), "--out", str(tmp_path / "r.png"), "-k", "3")
    assert code == 0, err
    with Image.open(tmp_path / "r.png") as img:
        assert img.format == "PNG" and img.width > 800 and img.height > 800
        pixels = np.asarray(img.convert("L"))
    assert pixels.std() > 10  # something is drawn, not a blank page
    assert [r["event"] for r in read_metrics(digits_run)][0] == "start"
    # without report.json the bars are evaluated now: the trained figures are the run's evaluation
    encoder = pairs.load_encoder(digits_run)
    figures = run_figures(encoder.run, encoder)
    from pairs.domains.evaluation import probe_and_knn

    assert figures["knn_acc"] == probe_and_knn(encoder, load_data("digits"))["knn_acc"]
    assert "knn_acc_untrained" in figures and figures["knn_acc_untrained"] != figures["knn_acc"]
    code, _, err = _cli(capsys, "report", str(digits_run), "--out", str(tmp_path / "r.jpg"))
    assert code == 2 and "must name a .png" in err


def test_vector_writer_npy_rows_in_any_order_without_mapping_the_file(tmp_path: Path) -> None:
    from pairs.results.embedding import VectorWriter

    g = torch.Generator().manual_seed(3)
    x = torch.randn(10, 2, 3, generator=g).numpy()
    writer = VectorWriter(tmp_path / "v.npy", 10)
    writer.write(6, x[6:], [f"i{j}" for j in range(6, 10)], None)  # out of order: a later batch first
    writer.write(0, x[:6], [f"i{j}" for j in range(6)], None)
    assert writer._npy is not None and not isinstance(writer._npy[0], np.memmap)
    with pytest.raises(ValueError, match="do not fit"):
        writer.write(8, x[:4], ["a"] * 4, None)  # rows past the end
    side = writer.close()
    loaded = np.load(tmp_path / "v.npy", mmap_mode="r")
    assert loaded.shape == (10, 2, 3) and loaded.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(loaded), x)
    assert [json.loads(line)["id"] for line in side.read_text().splitlines()][:2] == ["i6", "i7"]
