"""The one registry mechanism (:class:`pairs.registry.Registry`): duplicates, lookups, lazy discovery."""

from __future__ import annotations

import sys
import textwrap

import pytest

from pairs.errors import ConfigError, DataError
from pairs.registry import Registry, package_modules


def f() -> int:
    return 1


def g() -> int:
    return 2


def test_a_taken_name_is_refused_for_another_entry_and_kept_for_the_same() -> None:
    reg: Registry = Registry("widget")
    assert reg.register("one")(f) is f
    reg.add("one", f)  # the same entry again (a module reload) is fine
    with pytest.raises(ValueError, match=r"widget name 'one' is already registered for .*\.f; .*\.g"):
        reg.add("one", g)
    assert reg.get("one") is f
    with pytest.raises(TypeError, match="decorates a class or function"):
        reg.register("two")(5)
    with pytest.raises(TypeError, match="widget name must be a str"):
        reg.add(3, f)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        reg.add(" ", f)


def test_an_unknown_name_raises_the_registrys_error_with_close_matches_and_the_known_names() -> None:
    reg: Registry = Registry("widget", normalize=str.lower)
    reg.add("Sprocket", f)
    reg.add("gear", g)
    assert reg.get("SPROCKET") is f and "sprocket" in reg and reg["gear"] is g
    with pytest.raises(ConfigError) as err:
        reg.get("sprockt")
    assert (
        str(err.value)
        == "unknown widget 'sprockt'. Did you mean 'sprocket'? All known widgets: gear, sprocket"
    )
    data: Registry = Registry("data spec", plural="specs", error=DataError, listing=lambda: ["a:DIR"])
    with pytest.raises(DataError, match=r"^unknown data spec 'x'\. All known specs: a:DIR$"):
        data.get("x")
    assert reg.names(lambda e: e is g) == ["gear"]
    assert list(reg) == ["gear", "sprocket"] and len(reg) == 2


@pytest.fixture
def plugin_package(tmp_path, monkeypatch):
    """A package whose modules register into its registry: two good ones and one that cannot import."""
    root = tmp_path / "regpkg_for_test"
    root.mkdir()
    (root / "__init__.py").write_text(
        "from pairs.registry import Registry\nTHINGS = Registry('thing', packages=[__name__])\n"
    )
    for name, body in {
        "alpha": "from regpkg_for_test import THINGS\nTHINGS.add('alpha', 'A')\n",
        "beta": "from regpkg_for_test import THINGS\nTHINGS.add('b', 'B')\n",
        "broken": "import regpkg_no_such_dependency\n",
        "_private": "raise AssertionError('modules starting with _ are not scanned')\n",
    }.items():
        (root / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for module in [m for m in sys.modules if m.startswith("regpkg_for_test")]:
        del sys.modules[module]


def test_modules_are_found_by_a_scan_and_imported_only_when_needed(plugin_package) -> None:
    from regpkg_for_test import THINGS

    assert package_modules("regpkg_for_test") == [
        "regpkg_for_test.alpha",
        "regpkg_for_test.beta",
        "regpkg_for_test.broken",
    ]
    assert THINGS.get("alpha") == "A"  # the module named after the entry, alone
    assert "regpkg_for_test.beta" not in sys.modules
    with pytest.warns(UserWarning, match="could not import regpkg_for_test.broken"):
        assert THINGS.get("b") == "B"  # no module of that name: every module is imported
    with pytest.raises(
        ConfigError, match=r"regpkg_for_test\.broken could not be imported: ModuleNotFoundError"
    ):
        THINGS.get("gamma")
    with THINGS.restored():
        THINGS.add("gamma", "G")
        assert THINGS.names() == ["alpha", "b", "gamma"]
    assert THINGS.names() == ["alpha", "b"]


def test_the_library_registries_refuse_a_second_entry_under_a_taken_name() -> None:
    import encoders
    from pairs.data.registry import DATA, register_data
    from pairs.domains import RECIPES, register_recipe
    from pairs.methods import METHODS, register_method

    with METHODS.restored(), pytest.raises(ValueError, match="method name 'simclr' is already registered"):
        register_method("SimCLR", g)
    with DATA.restored(), pytest.raises(ValueError, match="data spec name 'digits' is already registered"):
        register_data("digits", g, domain="image", description="x")
    with RECIPES.restored(), pytest.raises(ValueError, match="domain name 'image' is already registered"):
        register_recipe("image", g)
    with (
        encoders.ENCODERS.restored(),
        pytest.raises(ValueError, match="encoder name 'gin' is already registered"),
    ):
        encoders.register("gin", domain="graph", description="x")(g)
