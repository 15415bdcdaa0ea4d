"""The smaller findings of issue 18 (item 8): messages, the version, warnings under -q, the report's details."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sklearn_zsfuse.cli import main


def test_zsfuse_version(capsys):
    from sklearn_zsfuse import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"zsfuse {__version__}"


def test_an_undecodable_file_is_one_readable_line(tmp_path, tiny_wavlm, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(2000))
    rc = main(["embed", "--fm", tiny_wavlm, str(bad), "--out", str(tmp_path / "x.npy")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert ":;" not in err  # was "cannot be used:; X[0] ..."
    assert "1 of 1 clip(s) cannot be used: X[0]" in err
    assert "Error opening" not in err and "(Format not recognised)" in err  # not "Error opening 3: ..."


def test_one_line_joins_a_heading_and_its_list_without_a_stray_semicolon():
    from sklearn_zsfuse.cli.parsing import one_line

    assert one_line("2 of 3 bad:\n  a\n  b\nFix them.") == "2 of 3 bad: a; b; Fix them."


def test_unweighted_accuracy_is_balanced_accuracy_without_its_warning():
    """-q let scikit-learn's 'y_pred contains classes not in y_true' through, from the protocol's own UA."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.metrics import balanced_accuracy_score

    from sklearn_zsfuse.evaluation.metrics import scorers, unweighted_accuracy

    rng = np.random.default_rng(0)
    y_true = rng.choice(["a", "b", "c"], 50)
    y_pred = rng.choice(["a", "b", "c", "d"], 50)  # "d" never true
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = balanced_accuracy_score(y_true, y_pred)
        one = balanced_accuracy_score(y_true[:1], y_pred[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert unweighted_accuracy(y_true, y_pred) == expected  # exactly the same number
        assert unweighted_accuracy(y_true[:1], y_pred[:1]) == one

        class Fixed(ClassifierMixin, BaseEstimator):
            classes_ = np.array(["a", "b", "c", "d"])

            def predict(self, X):
                return y_pred

        assert scorers()["ua"](Fixed(), None, y_true) == expected


def test_fusion_selection_by_balanced_accuracy_raises_no_warning_for_a_class_a_split_lacks():
    from sklearn_zsfuse.estimators.fusion_selection import fusion_candidates, select_fusion

    rng = np.random.default_rng(1)
    classes = np.array(["a", "b", "c"])
    y = np.array(["a", "b"] * 20 + ["c"] * 4)
    zs = rng.normal(size=(44, 3)) + 3 * (classes == y[:, None])
    emb = rng.normal(size=(44, 4))
    splits = [(np.arange(0, 40), np.arange(40, 44)), (np.arange(4, 44), np.arange(0, 4))]  # validations lack classes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        select_fusion(zs, emb, y, splits, fusion_candidates(weights=(0, 1)), zero_shot_classes=classes)


def test_a_class_prompt_warning_is_given_once_per_grid_search_not_once_per_fit(tiny_clap):
    """7 fits (3 folds x 2 candidates + refit) printed the same misspelt-key warning 7 times."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from sklearn_zsfuse import ALMZeroShotScorer

    rng = np.random.default_rng(0)
    X = [0.1 * rng.normal(size=8000).astype(np.float32) for _ in range(12)]
    y = np.array(["angry", "sad", "happy"] * 4)
    scorer = ALMZeroShotScorer(tiny_clap, class_prompts={"angry": "mad", "fearfull-in-a-grid": "afraid"},
                               templates=("a {} voice.",), device="cpu", sampling_rate=16000)
    search = GridSearchCV(make_pipeline(scorer, LogisticRegression()), {"logisticregression__C": [0.1, 1.0]}, cv=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # Python's own once-per-place memory cannot hide a repeat
        search.fit(X, y)
    told = [w for w in caught if "fearfull-in-a-grid" in str(w.message)]
    assert len(told) == 1, [str(w.message) for w in told]


# --- the report (table.md, report.html, the plots) ---------------------------------------------------------


@pytest.fixture
def figures(monkeypatch):
    """{file name: matplotlib Figure} of every plot the report writes."""
    pytest.importorskip("matplotlib")
    from pathlib import Path

    from sklearn_zsfuse.reporting import plots

    made, save = {}, plots._save

    def keep(fig, path):
        made[Path(path).name] = fig
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    return made


def _two_by_two_study(**kwargs):
    from test_evaluation_study import GRID, two_by_two

    from sklearn_zsfuse.evaluation import run_study

    features, labels, folds, speakers = two_by_two()
    return run_study(features, labels, folds, speakers, grid=GRID, dataset="toy", **kwargs)


def _ua(summary) -> str:
    return f"{100 * summary['ua']:.2f} ± {100 * summary['ua_std']:.2f}"


def test_the_summary_grid_has_each_model_alone_and_a_std_in_every_cell(tmp_path):
    from sklearn_zsfuse.reporting.files import write_report
    from sklearn_zsfuse.reporting.sections import sections

    study = _two_by_two_study()
    tables = {title: payload for _, title, kind, payload in sections(study) if kind == "table"}
    header, rows = tables["Summary: zs_fuse UA (%), ALM x specialist"]
    zero_shot = "zero_shot+ensemble+amplification"
    assert header == ["zs_fuse UA (%): ALM \\ specialist", "fm-good", "fm-noise", f"{zero_shot} alone"]
    assert [r[0] for r in rows] == ["clap-a", "clap-b", "specialist alone"]
    assert rows[1][1] == _ua(study.pairs[("clap-b", "fm-good")].systems["zs_fuse"].summary)
    assert rows[0][3] == _ua(study.alm_runs["clap-a"].systems[zero_shot].summary)
    assert rows[2][2] == _ua(study.fm_runs["fm-noise"].systems["specialist"].summary)
    write_report(study, tmp_path, plots=False)
    assert "| specialist alone |" in (tmp_path / "table.md").read_text()


def test_every_table_has_its_plots_and_their_titles_name_its_models(tmp_path, figures):
    from sklearn_zsfuse.reporting.files import write_report

    study = _two_by_two_study()
    written = write_report(study, tmp_path)
    pairs = [f"{a} + {f}" for a, f in study.pairs]
    confusions = {name: fig for name, fig in figures.items() if name.startswith("confusion")}
    assert len(confusions) == len(pairs) == 4  # was: the first pair's only
    for pair in pairs:
        titled = [n for n, fig in confusions.items() if pair in fig.axes[0].get_title()]
        assert len(titled) == 1, (pair, [f.axes[0].get_title() for f in confusions.values()])
    weights = [fig.axes[0].get_title() for name, fig in figures.items() if name.startswith("ua_vs_weight")]
    assert sorted(t.split(": ")[0] for t in weights) == sorted(f"toy, {p}" for p in pairs)
    page = written["html"].read_text()
    assert all(f"<h3>{p}</h3>" in page for p in pairs) and page.count("<img ") == len(figures)


def test_the_weight_plot_names_the_chosen_weights_in_its_legend_not_over_the_curve(tmp_path, figures):
    from sklearn_zsfuse.reporting.files import write_report

    write_report(_two_by_two_study(), tmp_path, html=False)
    ax = figures["ua_vs_weight.png"].axes[0]
    assert not ax.texts  # was: "chosen ×k" written down the plot, across the curves
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("chosen by inner CV: w = ") for t in legend), legend


def test_a_single_test_fold_is_not_called_a_mean_over_folds(tmp_path, figures):
    from test_evaluation import logits_for, toy

    from sklearn_zsfuse.evaluation import FeatureSet, Features, Grid, run_study
    from sklearn_zsfuse.reporting.files import write_report

    labels, folds, speakers, emb = toy()
    zs = logits_for(labels, np.random.default_rng(3).random(len(labels)) < 0.6)
    study = run_study(FeatureSet.from_features(Features(emb[:, 1:], zs, {(1, 1): zs})), labels, folds, speakers,
                      grid=Grid(audio_repeats=(1,), text_repeats=(1,)), test=folds == 3, dataset="toy")
    write_report(study, tmp_path, html=False)
    title = figures["ua_vs_weight.png"].axes[0].get_title()
    assert "one test set" in title and "over folds" not in title and "±" not in title, title


def test_the_subset_note_is_in_the_run_facts_not_only_in_the_configuration(tmp_path):
    from sklearn_zsfuse.reporting.files import write_report

    study = _two_by_two_study()
    study.config["notes"] = ["subset of 12 of 48 clips"]
    write_report(study, tmp_path, plots=False)
    assert "- corpus: subset of 12 of 48 clips" in (tmp_path / "table.md").read_text()
    page = (tmp_path / "report.html").read_text()
    assert "<li>corpus: subset of 12 of 48 clips</li>" in page.split("<h2>Configuration</h2>")[0]


def test_the_layer_plot_has_whole_layer_ticks_and_draws_all_as_a_point_apart(tmp_path, figures):
    from test_evaluation import logits_for, toy

    from sklearn_zsfuse.evaluation import FeatureSet, Grid, ZeroShotFeatures, run_study
    from sklearn_zsfuse.reporting.files import write_report

    labels, folds, speakers, emb = toy()
    rng = np.random.default_rng(7)
    zs = logits_for(labels, rng.random(len(labels)) < 0.6)
    layers = (0, 2, 4, "all")
    fms = {f"w [layer {k}]": emb[:, 1:] + rng.normal(0, 1 + i, emb[:, 1:].shape) for i, k in enumerate(layers)}
    features = FeatureSet(alms={"clap": ZeroShotFeatures(zs, {(1, 1): zs})}, fms=fms,
                          fm_layers={name: ("w", k) for name, k in zip(fms, layers)})
    study = run_study(features, labels, folds, speakers, grid=Grid(audio_repeats=(1,), text_repeats=(1,)),
                      dataset="toy")
    write_report(study, tmp_path, html=False)
    ax = figures["ua_vs_layer.png"].axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[:3] == ["0", "2", "4"] and ticks[3].startswith("all") and len(ticks) == 4  # no 0.5, 1.5, ...
    for line in ax.get_lines():  # each curve over the numbered layers; "all" one marker, not a line across
        xs = list(line.get_xdata())
        assert xs == [0, 1, 2] or (len(xs) == 1 and line.get_linestyle() == "None"), (line.get_label(), xs)
    assert not [line for line in ax.get_lines() if "mean of layers" in line.get_label()]


def test_the_readme_use_block_defines_every_name_it_reads():
    """A reader copies README's "Use" block first: it read paths, labels and speakers it never defined."""
    import ast
    import builtins

    from test_docs import REPO, blocks

    readme = REPO / "README.md"
    use_line = readme.read_text(encoding="utf-8").splitlines().index("## Use") + 1
    block = next(b for b in blocks(readme) if b.line > use_line and b.lang == "python")
    tree = ast.parse(block.code)
    defined = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    assert not read - defined, f"README's Use block ({block.id}) reads names it does not define: {read - defined}"
