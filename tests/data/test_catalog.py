"""The spec catalogue read from source equals what the loader modules register when imported."""

from __future__ import annotations

import importlib

from pairs.data import catalog, registry


def test_the_static_listing_equals_the_registered_specs():
    declared = {d.name: d for d in catalog.declared_specs()}
    modules = catalog.loader_modules()
    assert {"pairs.data.images", "pairs.data.graphs", "pairs.data.text"} <= set(modules)
    for module in modules:
        importlib.import_module(module)
    for name, spec in declared.items():
        entry = registry.DATA.loaded()[name]
        assert (entry.domain, entry.description, entry.argument) == (
            spec.domain,
            spec.description,
            spec.argument,
        )
        assert entry.loader.__module__ == spec.module
    shipped = {
        n
        for n, e in registry.DATA.loaded().items()
        if getattr(e.loader, "__module__", "").startswith("pairs.")
    }
    assert shipped <= set(declared), sorted(shipped - set(declared))


def test_a_call_that_is_not_a_literal_is_read_by_importing(tmp_path):
    literal = tmp_path / "lit.py"
    literal.write_text('register_data("x", f, domain="image", description="an x", argument="DIR")\n')
    looped = tmp_path / "loop.py"
    looped.write_text('for n in ("a", "b"):\n    register_data(n, f, domain="image", description=n)\n')
    built = tmp_path / "built.py"
    built.write_text('register_data("y", f, domain="image", description=TEXT)\n')
    none = tmp_path / "none.py"
    none.write_text("x = 1\n")
    registers, specs = catalog._scan(str(literal), 0.0)
    assert registers and specs is not None
    assert [(s.name, s.domain, s.description, s.argument) for s in specs] == [("x", "image", "an x", "DIR")]
    assert catalog._scan(str(looped), 0.0) == (True, None)
    assert catalog._scan(str(built), 0.0) == (True, None)
    assert catalog._scan(str(none), 0.0) == (False, None)


def test_loading_a_spec_imports_only_its_module():
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from pairs.data import load_data\n"
        "load_data('digits')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('pairs.data.'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "pairs.data.images" in loaded
    assert "pairs.data.graphs" not in loaded and "pairs.data.audio" not in loaded
