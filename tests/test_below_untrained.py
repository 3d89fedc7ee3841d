"""A trained figure below the untrained encoder's is named in a warning line and in the report."""

from __future__ import annotations

from pairs.experiment import below_untrained, train


def test_below_untrained_names_exactly_the_figures_under_their_twin():
    report = {
        "knn_acc": 0.80,
        "knn_acc_untrained": 0.90,
        "linear_probe_acc": 0.95,
        "linear_probe_acc_untrained": 0.90,
        "svm_acc": 0.5,
        "svm_acc_untrained": 0.5,  # equal is not below
        "mfcc_probe_acc": 0.7,  # a baseline has no twin
        "lee_spearman": 0.1,
        "lee_spearman_untrained": 0.2,
        "final_loss": 1.0,
        "final_loss_untrained": 2.0,  # not a figure
    }
    assert below_untrained(report) == ["knn_acc", "lee_spearman"]


def test_train_warns_for_each_figure_below_its_untrained_twin(tmp_path, monkeypatch):
    """The trained encoder's kNN figure is made to fall below the untrained one's: one warning, for it."""
    import pairs.experiment as experiment

    real_recipe_for = experiment.recipe_for
    calls = []

    def recipe_for(bundle):
        recipe = real_recipe_for(bundle)
        evaluate = recipe.evaluate

        def worse_knn_after_training(encoder, data, device):
            figures = dict(evaluate(encoder, data, device))
            calls.append(figures)
            if len(calls) == 2:  # the second evaluation is the trained encoder's
                figures["knn_acc"] = calls[0]["knn_acc"] - 0.25
            return figures

        recipe.evaluate = worse_knn_after_training
        return recipe

    monkeypatch.setattr(experiment, "recipe_for", recipe_for)
    lines: list[str] = []
    report = train(
        "digits", epochs=1, batch_size=64, out=str(tmp_path / "run"), progress=False, log=lines.append
    )
    assert len(calls) == 2
    expected = sorted(k for k in ("knn_acc", "linear_probe_acc") if report[k] < report[f"{k}_untrained"])
    assert "knn_acc" in expected
    assert report["below_untrained"] == expected
    warnings = [line for line in lines if line.startswith("warning: ")]
    assert [w.split()[1] for w in warnings] == expected
    for key, line in zip(expected, warnings, strict=True):
        assert f"{report[key]:.4f} is below the untrained encoder's {report[key + '_untrained']:.4f}" in line
