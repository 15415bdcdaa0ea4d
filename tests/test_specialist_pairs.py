"""Two specialists evaluated side by side (issue 19 item 3: "a fusion of two real specialists").

Before: ``zsfuse evaluate --fm egemaps ge2e`` evaluated each specialist alone and
each with the ALM, never the two together. ``--specialist-pairs`` /
``evaluate(specialist_pairs=True)`` adds each two specialists' embeddings joined as
one more specialist, alone and fused with every ALM.
"""

import json

import numpy as np
import pytest

from sklearn_zsfuse.cli import main
from sklearn_zsfuse.evaluation import Grid
from sklearn_zsfuse.evaluation.features import FeatureSet, ZeroShotFeatures
from sklearn_zsfuse.evaluation.protocol import run_study
from sklearn_zsfuse.evaluation.specialist_pairs import with_specialist_pairs

from test_evaluate_models import small_csv  # noqa: F401  (a fixture: 12 real clips in a csv corpus)


def _complementary(n_per_class=60, seed=0):
    """Four classes as two bits: specialist A sees bit 0 only, B bit 1 only, each beside noise."""
    rng = np.random.default_rng(seed)
    classes = np.array(["angry", "happy", "neutral", "sad"], dtype=object)
    code = np.repeat(np.arange(4), n_per_class)
    a = np.column_stack([(code & 1) * 3.0, rng.normal(size=(len(code), 3))]) + rng.normal(0, 0.3, (len(code), 4))
    b = np.column_stack([(code >> 1) * 3.0, rng.normal(size=(len(code), 5))]) + rng.normal(0, 0.3, (len(code), 6))
    speakers = np.tile(np.arange(6), len(code) // 6 + 1)[: len(code)].astype(str)
    folds = (np.arange(len(code)) % 3) + 1
    return classes, classes[code], a, b, speakers, folds


def test_two_specialists_that_each_see_half_of_the_labels_are_complete_side_by_side():
    classes, labels, a, b, speakers, folds = _complementary()
    features = FeatureSet(fms={"A": a, "B": b}, fm_layers={"A": ("A", None), "B": ("B", None)})
    study = run_study(with_specialist_pairs(features), labels, folds, speakers, classes=classes, dataset="bits")
    assert study.fms == ["A", "B", "A & B"]
    ua = {f: study.fm_runs[f].systems["specialist"].summary["ua"] for f in study.fms}
    # one bit of two: each class confused with another (0.5 expected; 0.62 is 4 standard deviations above it)
    assert ua["A"] < 0.62 and ua["B"] < 0.62
    assert ua["A & B"] > 0.95


def test_joined_entries_follow_the_layers_of_a_sweep():
    n = 5
    one = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    swept = {layer: np.full((n, 3), k, dtype=np.float32) for k, layer in enumerate([0, 2, "all"])}
    fms = {"egemaps": one, **{f"w [layer {k}]": v for k, v in swept.items()}}
    fm_layers = {"egemaps": ("egemaps", None), **{f"w [layer {k}]": ("w", k) for k in swept}}
    zs = ZeroShotFeatures(np.zeros((n, 2)), {})
    out = with_specialist_pairs(FeatureSet(alms={"clap": zs}, fms=fms, fm_layers=fm_layers))
    joined = [name for name in out.fms if "&" in name]
    assert joined == ["egemaps & w [layer 0]", "egemaps & w [layer 2]", "egemaps & w [layer all]"]
    for k, layer in enumerate([0, 2, "all"]):
        name = f"egemaps & w [layer {layer}]"
        np.testing.assert_array_equal(out.fms[name], np.hstack([one, swept[layer]]))
        assert out.fm_layers[name] == ("egemaps & w", layer)
        # joined when used, like a sweep's stored layers: the parts are held, not copied
        assert out.fms[name].parts[1] is swept[layer] and out.fms[name].shape == (n, 5)
    assert out.alms == {"clap": zs} and list(out.fms)[:4] == list(fms)
    # two swept models: joined layer by layer, not every layer with every layer
    both = {**fms, **{f"v [layer {k}]": v + 10 for k, v in swept.items()}}
    both_layers = {**fm_layers, **{f"v [layer {k}]": ("v", k) for k in swept}}
    out = with_specialist_pairs(FeatureSet(fms=both, fm_layers=both_layers))
    assert [n for n in out.fms if n.startswith("w & v")] == ["w & v [layer 0]", "w & v [layer 2]", "w & v [layer all]"]
    np.testing.assert_array_equal(out.fms["w & v [layer 2]"], np.hstack([swept[2], swept[2] + 10]))
    # one specialist: nothing to join
    assert list(with_specialist_pairs(FeatureSet(fms={"egemaps": one})).fms) == ["egemaps"]


@pytest.fixture(scope="module")
def second_wavlm(tmp_path_factory):
    from sklearn_zsfuse.testing import make_tiny_wavlm

    return str(make_tiny_wavlm(tmp_path_factory.mktemp("wavlm_seed1"), seed=1, hidden_size=16))


def test_the_command_evaluates_the_joined_specialist_alone_and_fused(small_csv, tiny_clap, tiny_wavlm,  # noqa: F811
                                                                     second_wavlm, tmp_path):
    out = tmp_path / "o"
    assert main(["evaluate", "--dataset", "csv", "--root", str(small_csv), "--alm", tiny_clap, "--fm", tiny_wavlm,
                 second_wavlm, "--specialist-pairs", "--grid", "na=1", "nt=1", "w=0,1", "--no-plots",
                 "--device", "cpu", "-q", "--out", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text())
    joined = f"{tiny_wavlm} & {second_wavlm}"
    assert doc["fms"] == [tiny_wavlm, second_wavlm, joined] and doc["config"]["specialist_pairs"] is True
    assert "specialist" in doc["fm"][joined]["systems"]
    assert "zs_fuse" in doc["pairs"][tiny_clap][joined]["systems"]
    assert "&" in (out / "table.md").read_text()


def test_the_option_is_refused_where_it_cannot_apply(small_csv, tiny_wavlm, tmp_path, capsys):  # noqa: F811
    base = ["evaluate", "--dataset", "csv", "--root", str(small_csv), "--alm", "none", "--out", str(tmp_path)]
    for extra, message in [
        (["--fm", tiny_wavlm, "--specialist-pairs"], "--specialist-pairs joins two specialists, but --fm gives 1"),
        (["--fm", tiny_wavlm, tiny_wavlm + "/", "--specialist-pairs", "--target", "arousal"], "--specialist-pairs"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            code = main(base + extra)
            raise SystemExit(code)
        assert exit_.value.code == 2, extra
        assert message in capsys.readouterr().err, extra
    with pytest.raises(ValueError, match="specialist_pairs=True joins two specialists"):
        from sklearn_zsfuse.datasets import load_corpus
        from sklearn_zsfuse.evaluation import evaluate

        evaluate(load_corpus("csv", small_csv), alm=None, fm=tiny_wavlm, specialist_pairs=True, grid=Grid())
