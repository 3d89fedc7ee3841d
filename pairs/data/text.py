"""Text data that works offline: real sentences and documents shipped with gensim, and a user's text file.

Specs registered here (all under the name ``text``):

* ``text:polarity``: Pang & Lee's 200 labelled movie-review sentences (100 negative, 100 positive) from
  gensim's test data (``pang_lee_polarity.cor``, latin-1); a fixed stratified 75/25 split
  (``random_state=0``), labels ``neg=0``, ``pos=1``.
* ``text:lee``: the Lee corpus: 300 news documents (``lee_background.cor``) to train on, and the 50 documents
  (``lee.cor``) rated for similarity by humans as the held-out set; the 50x50 human similarity matrix
  (``similarities0-1.txt``, symmetrised) is ``info["human_similarity"]``. No class labels.
* ``text:FILE``: one sample per line (blank lines skipped). When every line starts with a fastText label
  ``__label__NAME``, the labels are read (classes in sorted order) and the data gets a stratified 80/20
  split; otherwise the data is unlabelled. (A file named ``lee`` or ``polarity`` is given as ``text:./lee``.)

gensim is needed only for the first two (``pip install gensim``); its data files ship in the wheel.

Reference:
    Pang & Lee 2005, "Seeing stars: exploiting class relationships for sentiment categorization"; Lee,
    Pincombe & Welsh 2005, "An empirical evaluation of models of text document similarity".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pairs.data.registry import DataBundle, register_data

__all__ = ["gensim_data_path", "load_lee", "load_polarity", "load_text", "load_text_file", "read_lines"]

BUILTIN = ("lee", "polarity")
_LABEL = "__label__"


def gensim_data_path(name: str) -> Path:
    """Path of a file in gensim's bundled test data (found without importing gensim's heavy modules).

    Raises:
        ValueError: when gensim is not installed or lacks the file.
    """
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"data spec text:{Path(name).stem.split('_')[0]} needs the gensim package, whose wheel ships the "
            "real sentences: pip install gensim"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / "test" / "test_data" / name
        if path.is_file():
            return path
    raise ValueError(f"gensim is installed but its test data lacks {name}; reinstall gensim")


def read_lines(path: Path) -> tuple[list[str], str]:
    """Non-blank lines of a text file (trailing newline and spaces stripped) and the encoding used.

    UTF-8 is tried first, then latin-1.

    Raises:
        ValueError: for a missing, empty or binary file.
    """
    if not path.exists():
        raise ValueError(f"text file not found: {path}")
    if not path.is_file():
        raise ValueError(f"text:FILE needs a file with one sample per line, but {path} is a folder")
    raw = path.read_bytes()
    if b"\x00" in raw[:65536]:
        raise ValueError(f"{path} looks like a binary file; text:FILE needs plain text, one sample per line")
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "latin-1"
    lines = [line.rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise ValueError(f"{path} holds no text (every line is blank); expected one sample per line")
    return lines, encoding


def _split_labels(lines: list[str]) -> tuple[list[str], list[str] | None]:
    if not all(line.startswith(_LABEL) for line in lines):
        return lines, None
    labels, texts = [], []
    for line in lines:
        label, _, text = line[len(_LABEL) :].partition(" ")
        labels.append(label)
        texts.append(text.strip())
    return texts, labels


def _labelled_bundle(
    spec: str, texts: list[str], names: list[str], test_fraction: float, info: dict
) -> DataBundle:
    from pairs.data.images import stratified_split

    classes = sorted(set(names))
    y = np.array([classes.index(n) for n in names], dtype=np.int64)
    train, test = stratified_split(y, test_fraction)
    labels = torch.from_numpy(y)
    info = {
        **info,
        "classes": classes,
        "split": f"stratified {1 - test_fraction:.0%}/{test_fraction:.0%}, random_state=0",
    }
    return DataBundle(
        spec,
        "text",
        [texts[i] for i in train],
        labels[train],
        [texts[i] for i in test],
        labels[test],
        info,
    )


def load_polarity(arg: str | None = None) -> DataBundle:
    """Pang & Lee's 200 labelled sentences, stratified 75/25 (see the module docstring)."""
    path = gensim_data_path("pang_lee_polarity.cor")
    lines, _ = read_lines(path)
    texts, names = _split_labels(lines)
    if names is None:
        raise ValueError(f"{path} is not in the expected '__label__NAME text' format")
    return _labelled_bundle(
        "text:polarity", texts, names, 0.25, {"source": f"gensim {path.name} (Pang & Lee 2005)"}
    )


def load_lee(arg: str | None = None) -> DataBundle:
    """The Lee corpus: 300 background documents to train on, 50 rated documents and their human similarity."""
    train, _ = read_lines(gensim_data_path("lee_background.cor"))
    test, _ = read_lines(gensim_data_path("lee.cor"))
    matrix = np.loadtxt(gensim_data_path("similarities0-1.txt"), dtype=np.float64)
    if matrix.shape != (len(test), len(test)):
        raise ValueError(f"the Lee similarity matrix is {matrix.shape}, expected {(len(test), len(test))}")
    upper = np.triu(matrix, 1)
    sym = upper + upper.T + np.eye(len(test))
    return DataBundle(
        "text:lee",
        "text",
        train,
        None,
        test,
        None,
        {
            "source": "gensim lee_background.cor (300 docs), lee.cor (50 docs), similarities0-1.txt",
            "human_similarity": torch.from_numpy(sym),
            "split": "train: 300 background documents; held-out: the 50 human-rated documents",
        },
    )


def load_text_file(arg: str) -> DataBundle:
    """A user's text file, one sample per line (fastText ``__label__`` prefixes give labels)."""
    path = Path(arg).expanduser()
    lines, encoding = read_lines(path)
    texts, names = _split_labels(lines)
    spec = f"text:{arg}"
    info = {"source": str(path), "encoding": encoding}
    if names is not None and len(set(names)) >= 2 and len(texts) >= 10:
        return _labelled_bundle(spec, texts, names, 0.2, info)
    info["split"] = "none (unlabelled or too few lines): no held-out evaluation"
    return DataBundle(spec, "text", texts, None, None, None, info)


def load_text(arg: str | None) -> DataBundle:
    """``text:lee``, ``text:polarity`` or ``text:FILE``."""
    if not arg:
        raise ValueError("data spec 'text' needs an argument: text:lee, text:polarity or text:FILE")
    if arg in BUILTIN:  # a file called "lee" in the working folder is text:./lee
        return {"lee": load_lee, "polarity": load_polarity}[arg](None)
    return load_text_file(arg)


register_data(
    "text",
    load_text,
    domain="text",
    description="real text: text:polarity (200 labelled sentences), text:lee (news docs + human "
    "similarities), both shipped in gensim; or text:FILE, one sample per line",
    argument="lee|polarity|FILE",
)
