"""What a domain recipe declares: its named views (a registry, as the image and series view-recipe tables)
and how the report draws one of its items."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from pairs.data.registry import DataBundle
from pairs.domains import RECIPES, Recipe, recipe_for, view_recipes
from pairs.domains import preview as P
from pairs.errors import ConfigError
from pairs.registry import Registry
from pairs.results.report import draw_item


def _bundle(domain: str = "toy") -> DataBundle:
    return DataBundle("toy", domain, torch.zeros(4, 3), None, None, None, {})


def _recipe(views) -> Recipe:
    return Recipe(views=views, encoder="mlp", evaluate=lambda encoder, bundle, device="cpu": {})


def test_named_views_are_a_registry_in_the_order_given() -> None:
    recipe = _recipe({"second": lambda b: "b", "first": lambda b: "a"})
    assert isinstance(recipe.views, Registry)
    assert recipe.default_view == "second"  # the first given, not the first in sorted order
    assert recipe.make_view(None, _bundle()) == "b"
    assert recipe.make_view("first", _bundle()) == "a"
    assert recipe.knows_view("identity") and not recipe.knows_view("third")
    pairs = _recipe([("one", lambda b: 1), ("two", lambda b: 2)])
    assert pairs.default_view == "one" and pairs.make_view("two", _bundle()) == 2


def test_a_view_name_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="view recipe name 'crop' is already registered"):
        _recipe([("crop", lambda b: 1), ("crop", lambda b: 2)])
    table = view_recipes({"crop": lambda b: 1})
    with pytest.raises(ValueError, match="'crop' is already registered"):
        table.add("crop", lambda b: 2)


def test_an_unknown_view_names_the_known_ones_and_the_close_matches() -> None:
    recipe = _recipe({"jitter": lambda b: 1, "crop": lambda b: 2})
    with pytest.raises(ConfigError) as err:
        recipe.make_view("jiter", _bundle())
    message = str(err.value)
    assert message.startswith("unknown views 'jiter' for toy data; known: jitter, crop, identity (each may")
    assert message.endswith("e.g. jitter+dropout) Did you mean 'jitter'?")
    with pytest.raises(ConfigError) as err:
        recipe.make_view("blur", _bundle())
    assert "Did you mean" not in str(err.value)


def test_identity_is_known_in_every_domain_unless_a_recipe_names_its_own() -> None:
    x = torch.arange(6.0).reshape(2, 3)
    assert torch.equal(_recipe({"jitter": lambda b: None}).make_view("identity", _bundle())(x, 0), x)
    own = _recipe({"identity": lambda b: "own"})
    assert own.make_view("identity", _bundle()) == "own"


@pytest.mark.parametrize(
    ("domain", "draw"),
    [
        ("image", P.draw_image_item),
        ("series", P.draw_series_item),
        ("audio", P.draw_audio_item),
        ("text", P.draw_text_item),
    ],
)
def test_each_domain_recipe_declares_how_the_report_draws_its_items(domain, draw) -> None:
    samples = {
        "image": torch.rand(10, 1, 8, 8),
        "series": torch.randn(10, 2, 40),
        "audio": torch.randn(10, 1, 4000) * 0.1,
        "text": [f"sentence number {i} with a few words" for i in range(10)],
    }
    info = {"sample_rate": 16000, "shape": (1, 8, 8)} if domain != "text" else {}
    bundle = DataBundle("x", domain, samples[domain], None, None, None, info)
    assert RECIPES.get(domain)(bundle).draw_item is draw
    assert recipe_for(bundle).draw_item is draw


def test_draw_item_draws_with_the_recipes_drawer_and_leaves_an_item_blank_without_one() -> None:
    fig = Figure()
    drawn, blank = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    draw_item(drawn, torch.rand(3, 8, 8), P.draw_image_item)
    draw_item(blank, torch.rand(3, 8, 8), None)
    assert len(drawn.images) == 1 and drawn.images[0].get_array().shape == (8, 8, 3)
    assert len(blank.images) == 0 and len(blank.lines) == 0
    assert list(drawn.get_xticks()) == [] and list(blank.get_yticks()) == []
    text = fig.add_subplot(1, 3, 3)
    draw_item(text, "a short text", P.draw_text_item)
    assert [t.get_text() for t in text.texts] == ["a short text"]
