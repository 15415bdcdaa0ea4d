"""zsfuse evaluate end to end on real speech with tiny models: several models, layer sweeps, cross-corpus."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sklearn_zsfuse.cli import main

EMOTIONS = ["neutral", "happy", "sad", "angry"]
GERMAN = {"happy": "freude", "sad": "trauer", "angry": "wut", "neutral": "neutral", "disgust": "ekel"}


def _copy_csv_corpus(root, meta, label_of=lambda e: e):
    from conftest import RAVDESS

    rows = []
    for r in meta.itertuples():
        target = root / "audio" / f"{r.actor}_{r.emotion}_{r.statement}_{r.repetition}.flac"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(RAVDESS / r.path, target)
        rows.append((f"audio/{target.name}", label_of(r.emotion), f"spk{r.actor}"))
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(rows)
    return root


def _pick(meta, actors, emotions, per_class=1):
    m = meta[meta.actor.isin(actors) & meta.emotion.isin(emotions)]
    m = m[(m.intensity == "normal") | (m.emotion == "neutral")]
    return m.groupby(["actor", "emotion"]).head(per_class)


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory, ravdess_meta):
    """12 real clips in a csv folder: 3 actors (3 leave-one-speaker-out folds), 4 emotions, one take each."""
    return _copy_csv_corpus(tmp_path_factory.mktemp("small"), _pick(ravdess_meta, ["01", "02", "03"], EMOTIONS))


@pytest.fixture(scope="module")
def second_clap(tmp_path_factory):
    from sklearn_zsfuse.testing import make_tiny_clap

    return str(make_tiny_clap(tmp_path_factory.mktemp("clap_seed1"), seed=1))


def _run(argv, out):
    assert main(argv + ["--out", str(out), "--device", "cpu", "-q"]) == 0
    return json.loads((out / "results.json").read_text()), (out / "table.md").read_text()


def test_a_layer_sweep_writes_one_row_per_layer_and_encodes_audio_once(small_csv, tiny_clap, tiny_wavlm, tmp_path,
                                                                      monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    from sklearn_zsfuse.encoders.hf_speech import HFSpeechEncoder

    encoded = []
    real = HFSpeechEncoder.encode

    def counting(self, waves):
        encoded.append(len(waves))
        return real(self, waves)

    monkeypatch.setattr(HFSpeechEncoder, "encode", counting)
    doc, table = _run(["evaluate", "--dataset", "csv", "--root", str(small_csv), "--alm", tiny_clap, "--fm", tiny_wavlm,
                       "--layer", "0", "1", "2", "all", "--grid", "na=1", "nt=1", "w=0,0.5,1"], tmp_path)
    assert sum(encoded) == 12  # every clip once, for all four layer settings
    names = [f"{tiny_wavlm} [layer {k}]" for k in (0, 1, 2, "all")]
    assert doc["fms"] == names and doc["config"]["layers"] == [0, 1, 2, "all"]
    rows = doc["layers"][tiny_wavlm]
    assert [r["layer"] for r in rows] == [0, 1, 2, "all"]
    for row, name in zip(rows, names):
        assert row["specialist"] == doc["fm"][name]["systems"]["specialist"]["ua"]
        assert row[tiny_clap] == doc["pairs"][tiny_clap][name]["systems"]["zs_fuse"]["ua"]
    assert f"## Layer sweep: {Path(tiny_wavlm).name}" in table  # tables show a directory's last part
    for k in ("0", "1", "2", "all"):
        assert f"\n| {k} | " in table
    assert (tmp_path / "ua_vs_layer.png").read_bytes()[:4] == b"\x89PNG"
    # The layers really differ: a sweep that read one layer four times would give equal embeddings.
    from sklearn_zsfuse.estimators.embedding import FMEmbedder
    from sklearn_zsfuse.datasets import load_corpus

    corpus = load_corpus("csv", small_csv)
    emb = FMEmbedder(tiny_wavlm, device="cpu").fit(corpus.paths).layer_embeddings(corpus.paths)
    assert not np.allclose(emb[:, 0], emb[:, 2])


def test_a_layer_sweep_runs_beside_a_layerless_specialist(small_csv, tiny_clap, tiny_wavlm, tmp_path):
    """Issue 18: README's sweep with --fm egemaps tiny-wavlm exited 2 ("--layer 1 is out of range for 'egemaps'").

    --layer applies to the models with layers; eGeMAPS runs once, at its only one.
    """
    pytest.importorskip("opensmile")
    doc, table = _run(["evaluate", "--dataset", "csv", "--root", str(small_csv), "--alm", tiny_clap, "--fm",
                       "egemaps", tiny_wavlm, "--layer", "0", "2", "all", "--grid", "na=1", "nt=1", "w=0,1",
                       "--no-plots"], tmp_path)
    assert doc["fms"] == ["egemaps"] + [f"{tiny_wavlm} [layer {k}]" for k in (0, 2, "all")]
    assert [r["layer"] for r in doc["layers"][tiny_wavlm]] == [0, 2, "all"]
    assert "egemaps" not in doc["layers"]


def test_a_layer_sweep_of_layerless_specialists_alone_is_refused(small_csv, tmp_path, capsys):
    pytest.importorskip("opensmile")
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--dataset", "csv", "--root", str(small_csv), "--alm", "none", "--fm", "egemaps",
              "--layer", "0", "1", "--out", str(tmp_path), "-q"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--layer applies to no --fm model: 'egemaps' has a single hidden state" in err


def test_estimator_params_go_only_to_the_estimator_that_takes_them(small_csv, tiny_clap, tiny_wavlm):
    from sklearn_zsfuse.datasets import load_corpus
    from sklearn_zsfuse.estimators.embedding import FMEmbedder
    from sklearn_zsfuse.evaluation import Grid, evaluate
    from sklearn_zsfuse.estimators.pipeline import route_params

    alm, fm = route_params({"layer": 1, "cache_dir": None, "audio_repeats": 1})
    assert fm == {"layer": 1, "cache_dir": None} and alm == {"cache_dir": None, "audio_repeats": 1}
    with pytest.raises(ValueError, match=r"\['leyer'\] is not a parameter of ALMZeroShotScorer or FMEmbedder"):
        route_params({"leyer": 1})
    with pytest.raises(ValueError, match=r"\['leyer'\] is not a parameter of ALMZeroShotScorer or FMEmbedder"):
        evaluate(load_corpus("csv", small_csv), alm=tiny_clap, estimator_params={"leyer": 1})
    corpus = load_corpus("csv", small_csv)
    grid = Grid(audio_repeats=(1,), text_repeats=(1,), weights=(0, 1))
    study = evaluate(corpus, alm=tiny_clap, fm=tiny_wavlm, estimator_params={"layer": 1}, grid=grid, device="cpu")
    expected = FMEmbedder(tiny_wavlm, layer=1, device="cpu").fit(corpus.paths).transform(corpus.paths)
    np.testing.assert_allclose(study.feature_set.fms[tiny_wavlm], expected)
    with pytest.raises(ValueError, match="out of range"):
        evaluate(corpus, fm=tiny_wavlm, layer=[0, 7], grid=grid, device="cpu")


def test_cross_corpus_train_ravdess_test_a_german_csv_corpus(tmp_path_factory, ravdess_meta, tiny_clap, capsys):
    """Train on RAVDESS (its own loader), test on a csv folder whose labels are German words mapped with --label."""
    pytest.importorskip("opensmile")
    pytest.importorskip("matplotlib")
    from conftest import RAVDESS

    train = tmp_path_factory.mktemp("ravdess_part")
    for r in _pick(ravdess_meta, ["01", "02", "05", "06", "09"], EMOTIONS + ["calm"]).itertuples():
        (train / r.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(RAVDESS / r.path, train / r.path)
    test = _copy_csv_corpus(tmp_path_factory.mktemp("korpus"), _pick(ravdess_meta, ["13", "14"], list(GERMAN)),
                            label_of=GERMAN.get)
    out = tmp_path_factory.mktemp("cross")
    doc, table = _run(["evaluate", "--dataset", "ravdess", "--root", str(train), "--test-dataset", "csv",
                       "--test-root", str(test), "--label", "wut=angry", "freude=happy", "trauer=sad",
                       "--alm", tiny_clap, "--fm", "egemaps", "--grid", "na=1", "nt=1", "w=0,0.5,1",
                       "--name", "RAVDESS to Korpus"], out)
    cross = doc["cross_corpus"]
    assert cross["kept"] == ["angry", "happy", "neutral", "sad"]
    assert cross["train_dropped"] == {"calm": 5} and cross["test_dropped"] == {"ekel": 2}
    assert cross["train_clips"] == 25 and cross["test_clips"] == 10
    assert "classes kept: angry, happy, neutral, sad" in table and "calm (5 clips)" in table
    assert "ekel (2 clips)" in table
    assert table.startswith("# RAVDESS to Korpus: cross-corpus evaluation")
    for entry in doc["systems"].values():
        assert [f["n"] for f in entry["folds"]] == [8]  # one test set: the 8 shared-class clips of the csv corpus
        assert entry["ua_std"] is None
    assert not [line for line in table.splitlines() if line.startswith("| ") and "±" in line]
    assert (out / "report.html").is_file()


def test_several_alms_and_fms_in_one_run_write_every_table(small_csv, tiny_clap, second_clap, tiny_wavlm, tmp_path):
    """The acceptance run on few clips: two tiny CLAPs (seeds 0, 1), eGeMAPS and a tiny WavLM."""
    pytest.importorskip("opensmile")
    pytest.importorskip("matplotlib")
    check_acceptance(small_csv, [tiny_clap, second_clap], ["egemaps", tiny_wavlm], tmp_path,
                     grid=["na=1", "nt=1,2", "w=0,0.5,1"])


@pytest.mark.slow
def test_several_alms_and_fms_on_a_ravdess_subset(tmp_path_factory, ravdess_meta, tiny_clap, second_clap, tiny_wavlm):
    """The acceptance run on a RAVDESS subset of 4 actors (all 8 emotions, 2 statements)."""
    pytest.importorskip("opensmile")
    pytest.importorskip("matplotlib")
    m = ravdess_meta[ravdess_meta.actor.isin(["01", "02", "03", "04"]) & (ravdess_meta.repetition == 1)]
    m = m[(m.intensity == "normal") | (m.emotion == "neutral")]
    root = _copy_csv_corpus(tmp_path_factory.mktemp("subset"), m)
    check_acceptance(root, [tiny_clap, second_clap], ["egemaps", tiny_wavlm], tmp_path_factory.mktemp("out"))


def check_acceptance(root, alms, fms, out, grid=("na=1,2", "nt=1,2", "w=0,0.25,0.5,0.75,1")):
    from sklearn_zsfuse.evaluation import FUSIONS

    doc, table = _run(["evaluate", "--dataset", "csv", "--root", str(root), "--alm", *alms, "--fm", *fms,
                       "--grid", *grid, "--name", "RAVDESS subset"], out)
    assert doc["alms"] == alms and doc["fms"] == fms
    for a in alms:
        for f in fms:
            assert f"## {Path(a).name} + {Path(f).name}" in table
            pair = doc["pairs"][a][f]
            for s in ("specialist", "zero_shot+calibrated", *FUSIONS):
                assert 0 <= pair["systems"][s]["ua"] <= 1
                assert set(pair["systems"][s]["per_class_recall"]) == set(doc["config"]["classes"])
            assert set(pair["comparison"]) == set(FUSIONS)
            assert 0 <= pair["comparison"]["zs_fuse"]["mcnemar_p"] <= 1
            assert {"ece_before", "ece_after"} <= set(pair["calibration"])
            for s in FUSIONS:
                assert doc["grid"][s][a][f] == pair["systems"][s]["ua"]
    for s in FUSIONS:
        assert f"## Summary: {s} UA (%), ALM x specialist" in table
    for heading in ("### Per-class recall", "### Paired comparison with the specialist",
                    "### Calibration of the zero-shot probabilities", "| zs_fuse+concat |", "| zs_fuse+calibrated |",
                    "| zero_shot+calibrated |", "ECE before"):
        assert heading in table, heading
    page = (out / "report.html").read_text()
    assert page.count("<table>") == table.count("\n|---") and "data:image/png;base64," in page
    for text in ("Per-class recall", "McNemar p", "ECE before", "zs_fuse+concat", "RAVDESS subset"):
        assert text in page
    assert (out / "reliability_zero_shot.png").is_file()


def test_every_fusion_row_deploys_with_the_settings_chosen_on_all_clips(small_csv, tiny_clap, tiny_wavlm):
    from sklearn_zsfuse.datasets import load_corpus
    from sklearn_zsfuse.evaluation import FUSIONS, Grid, compute_feature_set, final_model, select_final

    corpus = load_corpus("csv", small_csv)
    grid = Grid(audio_repeats=(1,), text_repeats=(1,), weights=(0, 0.5, 1))
    features = compute_feature_set(corpus.paths, corpus.classes, alms=[tiny_clap], fms=[tiny_wavlm], grid=grid,
                                   device="cpu").pair(tiny_clap, tiny_wavlm)
    for system in FUSIONS:
        params = select_final(features, corpus.labels, corpus.folds, corpus.speakers, classes=corpus.classes,
                              grid=grid, system=system)
        model = final_model(system, params, alm=tiny_clap, fm=tiny_wavlm, layer=1, classes=corpus.classes,
                            device="cpu")
        fusion = model.named_steps["fusion"]
        assert fusion.method == params["method"] and model.named_steps["features"].transformer_list[1][1].layer == 1
        if system == "zs_fuse+calibrated":
            assert fusion.temperature == "fit"  # refitted on the deployed model's own training clips
        if system == "zs_fuse+concat":
            assert fusion.normalize == params["normalize"]
        model.fit(corpus.paths, corpus.labels)
        assert set(model.predict(corpus.paths[:3])) <= set(corpus.classes)
    with pytest.raises(ValueError, match="no deployable estimator"):
        final_model("zero_shot+calibrated", {"audio_repeats": 1, "text_repeats": 1}, alm=tiny_clap)


@pytest.mark.parametrize("extra, message", [
    (["--alm", "none", "x"], "--alm none cannot be combined with models"),
    (["--test-dataset", "csv"], "--test-dataset and --test-root go together"),
    (["--label", "wut"], "expected SPELLING=CANONICAL"),
    (["--label", "wut=angri"], "'angri' is not a canonical label"),
    (["--layer", "last"], "expected a layer index \\(e.g. -1, 6\\) or 'all', got 'last'"),
    (["--fm", "none", "--layer", "1"], "--layer chooses the specialist's hidden state, but --fm is none"),
    # models that pass the up-front checks, so that the corpus is read and its labels matched
    (["--alm", "none", "--fm", "{tiny_wavlm}", "--label", "zorn=angry"], r"no clip has the label\(s\) \['zorn'\]"),
])
def test_bad_evaluate_options_are_one_line_errors(small_csv, tiny_wavlm, extra, message, capsys):
    extra = [e.format(tiny_wavlm=tiny_wavlm) for e in extra]
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--dataset", "csv", "--root", str(small_csv), *extra])
    assert stop.value.code == 2
    import re

    assert re.search(message, capsys.readouterr().err.strip().splitlines()[-1])


def test_an_alm_shared_by_several_pairs_encodes_each_clip_once_per_audio_repeat(small_csv, tiny_clap, tiny_wavlm,
                                                                                 tmp_path, monkeypatch):
    from sklearn_zsfuse.datasets import load_corpus
    from sklearn_zsfuse.encoders.hf_clap import HFClapEncoder
    from sklearn_zsfuse.evaluation import Grid, evaluate
    from sklearn_zsfuse.testing import make_tiny_wavlm

    other = str(make_tiny_wavlm(tmp_path / "wavlm_seed1", seed=1))
    seen = []
    real = HFClapEncoder.audio_features

    def counting(self, waves):
        seen.append(len(waves))
        return real(self, waves)

    monkeypatch.setattr(HFClapEncoder, "audio_features", counting)
    corpus = load_corpus("csv", small_csv)
    study = evaluate(corpus, alm=tiny_clap, fm=[tiny_wavlm, other], device="cpu",
                     grid=Grid(audio_repeats=(1, 2), text_repeats=(1, 2), weights=(0, 1)))
    assert set(study.pairs) == {(tiny_clap, tiny_wavlm), (tiny_clap, other)}
    # N_a = 1 and 2; not once more per pair, prompt set or N_t (a few single-clip model probes allowed).
    assert 2 * len(corpus) <= sum(seen) <= 2 * len(corpus) + 4


def test_class_weight_balanced_weighs_the_specialist_by_class(small_csv, tiny_wavlm):
    """``class_weight="balanced"``: each class counts the same in the specialist's fit, whatever its clip count."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.class_weight import compute_sample_weight

    from sklearn_zsfuse.datasets import load_corpus
    from sklearn_zsfuse.evaluation import Grid, evaluate

    corpus = load_corpus("csv", small_csv)
    keep = np.flatnonzero((corpus.labels != corpus.classes[0]) | (corpus.speakers == corpus.speakers[0]))
    corpus = corpus.subset(keep)  # one class keeps a single speaker's clips: imbalanced training folds
    grid = Grid(audio_repeats=(1,), text_repeats=(1,), weights=(0,))
    study = evaluate(corpus, fm=tiny_wavlm, grid=grid, device="cpu", class_weight="balanced")
    assert "class_weight='balanced'" in study.config["classifier"]
    plain = evaluate(corpus, fm=tiny_wavlm, grid=grid, device="cpu")
    # the same as weighing every clip by its class's inverse frequency, by hand
    emb = study.feature_set.fms[tiny_wavlm]
    for fold in np.unique(corpus.folds):
        train, test = corpus.folds != fold, corpus.folds == fold
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        w = compute_sample_weight("balanced", corpus.labels[train])
        clf.fit(emb[train], corpus.labels[train], logisticregression__sample_weight=w)
        got = study.fm_runs[tiny_wavlm].systems["specialist"].predictions[test]
        np.testing.assert_array_equal(got, clf.predict(emb[test]))
    assert study.config["classifier"] != plain.config["classifier"]
    with pytest.raises(ValueError, match="class_weight or classifier"):
        evaluate(corpus, fm=tiny_wavlm, grid=grid, device="cpu", class_weight="balanced",
                 classifier=LogisticRegression())


def test_cli_class_weight_reaches_the_evaluation(small_csv, tiny_wavlm, tmp_path, capsys):
    import json

    out = tmp_path / "out"
    rc = main(["evaluate", "--dataset", "csv", "--root", str(small_csv), "--alm", "none", "--fm", tiny_wavlm,
               "--class-weight", "balanced", "--no-plots", "-q", "--out", str(out), "--device", "cpu"])
    assert rc == 0
    assert "class_weight='balanced'" in json.loads((out / "results.json").read_text())["config"]["classifier"]
