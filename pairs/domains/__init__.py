"""Domain defaults: what ``pairs train --data SPEC`` uses when nothing else is given.

A :class:`Recipe` names a domain's views, encoder, method, training budget, evaluation protocol and preview
drawing. :func:`recipe_for` picks the recipe for a loaded :class:`~pairs.data.DataBundle` by its domain
(a domain's recipe function may look at the bundle, e.g. node-level vs graph-level data). Domain modules
register with :func:`register_recipe`.

A recipe's named views are a :class:`~pairs.registry.Registry` (the mechanism of the image and series
view-recipe tables, :data:`pairs.views.image.RECIPES` and :data:`pairs.views.temporal.RECIPES`): a name given
twice is refused, an unknown one is answered with the close matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pairs.data.registry import DataBundle
from pairs.errors import ConfigError
from pairs.registry import Registry

ViewFactory = Callable[[DataBundle], Any]
"""``(bundle) -> view``: a View, a list of Views, or a multi-view producer."""


def view_recipes(
    views: Mapping[str, ViewFactory] | Iterable[tuple[str, ViewFactory]],
) -> Registry[ViewFactory]:
    """A domain's named view recipes as a :class:`~pairs.registry.Registry`, in the order given (the first
    is the domain's default).

    Args:
        views: ``{name: factory}``, or ``(name, factory)`` pairs.

    Raises:
        TypeError: a name that is not a string.
        ValueError: an empty name, or a name given twice for different factories.
    """
    table: Registry[ViewFactory] = Registry("view recipe", error=ConfigError, identity=repr)
    for name, factory in views.items() if isinstance(views, Mapping) else views:
        table.add(name, factory)
    return table


@dataclass
class Recipe:
    """A domain's defaults.

    Attributes:
        views: named view factories ``name -> (bundle) -> view`` (a View, a list of Views, or a multi-view
            producer); the first one is the default. Given as a dict (or ``(name, factory)`` pairs, or a
            registry from :func:`view_recipes`); kept as a :class:`~pairs.registry.Registry`.
        encoder: default encoder name in the ``encoders`` registry.
        evaluate: ``(encoder, bundle, device) -> dict`` of figures, the domain's evaluation protocol
            (``linear_probe_acc``, ``knn_acc``, ``svm_acc``, ...).
        encoder_kwargs: ``(bundle) -> dict`` of encoder arguments that depend on the data (channels, ...).
        method: default method name.
        method_kwargs: default method arguments (e.g. temperature).
        epochs, batch_size, lr, weight_decay, optimizer, warmup_epochs: the default training budget.
        max_steps: stop after this many optimizer steps even inside an epoch (``None``: whole epochs); used
            when the user does not give ``--epochs``.
        decay_all_parameters: weight decay on biases and norm scales too (:class:`pairs.train.TrainConfig`).
        min_lr_ratio: final learning rate as a fraction of ``lr`` (0: cosine to zero; 1: constant, as TS2Vec).
        checkpoint_every: save the run's checkpoint every this many epochs (and after the last one); for
            budgets of many one-step epochs (GRACE: one full graph per epoch).
        collate: ``(list of samples) -> batch`` for list-held data (``None``: stack tensors).
        baseline: ``(bundle) -> dict`` of figures of a hand-crafted feature that needs no training (audio:
            ``mfcc_probe_acc``), reported next to the learned features' figures (``None``: none).
        preview: ``(bundle, view, n, n_views, path, seed) -> None`` drawing samples and their views.
        draw_item: ``(ax, sample, *, sample_rate, seed) -> None`` drawing one raw item in the domain's own
            form on a matplotlib axes (the nearest-neighbour rows of :func:`pairs.results.report.report`;
            :mod:`pairs.domains.preview` has one per domain); ``None``: the item is left blank.
        decode_views: ``(view, n_views, source) -> (view, source)`` moving what a view does better at decode
            time into a streamed source (image: the random resized crops cut from the full-resolution
            file); ``None``, or an unchanged pair, keeps the view on the device.
        preprocess_state: plain data that a loaded run's input preparation needs from the training data
            (what the recipe already computed: the image shape, the series normalisation, the audio sample
            rate, the graph featurisation); ``pairs train`` saves it in the checkpoint, so that
            :func:`pairs.load_encoder` needs no training data (see :mod:`pairs.results.loading`).
    """

    views: Registry[ViewFactory] | Mapping[str, ViewFactory] | Iterable[tuple[str, ViewFactory]]
    encoder: str
    evaluate: Callable[..., dict[str, Any]]
    encoder_kwargs: Callable[[DataBundle], dict[str, Any]] = field(default=lambda bundle: {})
    method: str = "simclr"
    method_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = 100
    max_steps: int | None = None
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    decay_all_parameters: bool = False
    optimizer: str = "adamw"
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.0
    checkpoint_every: int = 1
    collate: Callable[[list], Any] | None = None
    baseline: Callable[[DataBundle], dict[str, Any]] | None = None
    preview: Callable[..., None] | None = None
    draw_item: Callable[..., None] | None = None
    decode_views: Callable[[Any, int, Any], tuple[Any, Any]] | None = None
    preprocess_state: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.views, Registry):
            self.views = view_recipes(self.views)

    @property
    def view_table(self) -> Registry[ViewFactory]:
        """The named view recipes (``views``, as a registry)."""
        assert isinstance(self.views, Registry)  # made one by __post_init__
        return self.views

    @property
    def default_view(self) -> str:
        """Name of the default view recipe."""
        return next(iter(self.view_table.loaded()))

    def knows_view(self, name: str) -> bool:
        """Whether ``name`` is one of this domain's view recipes or the generic ``identity``."""
        return name in self.view_table or name == "identity"

    def make_view(self, name: str | None, bundle: DataBundle) -> Any:
        """Build view recipe ``name`` (default: the first) for ``bundle``.

        ``identity`` (the unchanged data) is known in every domain, for model views such as
        ``identity+dropout`` (:mod:`pairs.views.model`); the model part of a name is not a data view and is
        ignored here (the method applies it).

        Raises:
            ConfigError: unknown name (the message lists this domain's views and the close matches).
        """
        from pairs.views.model import model_view_names, split_view_spec

        name = split_view_spec(name)[0] or self.default_view
        table = self.view_table
        factory = table.find(name)
        if factory is None and name == "identity":
            from pairs.views.base import Lambda

            return Lambda(_unchanged, name="identity")
        if factory is None:
            known = ", ".join([*table.loaded(), "identity"])
            raise ConfigError(
                f"unknown views {name!r} for {bundle.domain} data; known: {known} (each may take model "
                f"views after '+': {', '.join(model_view_names())}, e.g. {self.default_view}+dropout)"
                f"{table.suggestion(name)}"
            )
        return factory(bundle)


def _unchanged(batch: Any) -> Any:
    return batch


RECIPES: Registry[Callable[[DataBundle], Recipe]] = Registry("domain", packages=[__name__], error=ConfigError)
"""Recipe factories by domain; a lookup of ``DOMAIN`` imports ``pairs.domains.DOMAIN``, or every module of the
package when none has that name, so a new domain's recipe module is found as it is."""


def register_recipe(domain: str, factory: Callable[[DataBundle], Recipe]) -> None:
    """Register the recipe factory of ``domain``.

    Raises:
        ValueError: ``domain`` already has a different recipe factory.
    """
    RECIPES.add(domain, factory)


def recipe_for(bundle: DataBundle) -> Recipe:
    """The defaults for a loaded bundle.

    Raises:
        ConfigError: when no recipe is registered for the bundle's domain (the message lists the known
            domains).
    """
    return RECIPES.get(bundle.domain)(bundle)


__all__ = ["RECIPES", "Recipe", "ViewFactory", "recipe_for", "register_recipe", "view_recipes"]
