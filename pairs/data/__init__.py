"""Data that works offline, by name: ``load_data("digits")``, ``load_data("images:DIR")``, ...

``known_specs()`` lists every spec without importing the loaders (nor torch); a loader module is imported
when one of its specs is loaded.
"""

from pairs.data.registry import (
    DataBundle,
    known_specs,
    load_data,
    n_samples,
    parse_spec,
    register_data,
    take_samples,
)

__all__ = [
    "DataBundle",
    "known_specs",
    "load_data",
    "n_samples",
    "parse_spec",
    "register_data",
    "take_samples",
]
