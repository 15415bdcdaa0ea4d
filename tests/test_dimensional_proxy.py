"""The dimensional path end to end on real speech (issue 20.5): estimators, protocol, the command.

RAVDESS has no dimensional ratings. These tests derive a *proxy* from its
categories, in this file only, never as a corpus annotation: each emotion's place
on Russell's circumplex of affect (valence and arousal in [-1, 1]; Russell 1980,
approximate positions of the category words), arousal raised by 0.15 for
RAVDESS's "strong" intensity. The proxy is written into a csv corpus that these
tests build from copied RAVDESS clips, declared on the scale [-1, 1].

- A toy registered ALM whose pole probabilities carry the proxy exactly (an
  oracle keyed by the clip's audio) must give CCC 1.0 through the whole path:
  the zero-shot rows and the fused row at weight 1.
- tiny-clap (random weights) must leave the fused CCC within noise of the
  specialist's.
"""

import csv
import json
import shutil

import numpy as np
import pytest
from sklearn.pipeline import FeatureUnion, Pipeline

from sklearn_zsfuse import ALMAttributeScorer, FMEmbedder, LateFusionRegressor
from sklearn_zsfuse.audio import decode, prepare_clips
from sklearn_zsfuse.cli import main
from sklearn_zsfuse.datasets import load_corpus
from sklearn_zsfuse.encoders import register_alm, register_fm, unregister_alm, unregister_fm
from sklearn_zsfuse.evaluation import Grid, evaluate_dimensions
from sklearn_zsfuse.evaluation.regression_metrics import concordance_cc

from attribute_toys import PoleALM, pole_audio, wave_key

# (valence, arousal) of each RAVDESS category on the circumplex: a proxy for tests only.
CIRCUMPLEX = {
    "neutral": (0.0, 0.0), "calm": (0.4, -0.6), "happy": (0.8, 0.5), "sad": (-0.7, -0.4),
    "angry": (-0.6, 0.7), "fearful": (-0.6, 0.6), "disgust": (-0.7, 0.3), "surprised": (0.3, 0.8),
}
STRONG = 0.15
GRID = ["--grid", "na=1,2", "nt=1", "w=0,0.5,1"]


def proxy(emotion, intensity):
    valence, arousal = CIRCUMPLEX[emotion]
    return {"valence": valence, "arousal": arousal + (STRONG if intensity == "strong" else 0.0)}


@pytest.fixture(scope="module")
def proxy_corpus(tmp_path_factory, ravdess_meta):
    """RAVDESS clips of 6 actors (all 8 emotions, both intensities, one statement and take), copied, with the proxy."""
    from conftest import RAVDESS

    root = tmp_path_factory.mktemp("proxy_corpus")
    m = ravdess_meta[ravdess_meta.actor.isin(["01", "02", "03", "04", "05", "06"])]
    m = m[(m.statement == "kids") & (m.repetition == 1)]
    rows = []
    for r in m.itertuples():
        target = root / "audio" / r.path.split("/")[-1]
        target.parent.mkdir(exist_ok=True)
        shutil.copy(RAVDESS / r.path, target)
        p = proxy(r.emotion, r.intensity)
        rows.append((f"audio/{target.name}", r.emotion, f"actor{r.actor}", p["arousal"], p["valence"]))
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "speaker", "arousal", "valence"])
        writer.writerows(rows)
    assert len(rows) == 6 * 15
    return root


@pytest.fixture(scope="module")
def oracle(proxy_corpus):
    """``proxy-alm:oracle``: pole probabilities that carry the proxy exactly; ``stats-fm:x``: 3 clip statistics."""
    corpus = load_corpus("csv", proxy_corpus, dimensions=["arousal", "valence"])
    targets = {}
    for clip, a, v in zip(prepare_clips(corpus.paths, None), corpus.dimensions["arousal"], corpus.dimensions["valence"]):
        targets[wave_key(decode(clip, 16000, 60.0))] = {"arousal": (a + 1) / 2, "valence": (v + 1) / 2}
    register_alm("proxy-alm:", lambda ref, **kw: PoleALM(ref, pole_audio(lambda w: targets[wave_key(w)])),
                 prefix=True)
    register_fm("stats-fm:", lambda ref, **kw: StatsFM(ref), prefix=True)
    yield "proxy-alm:oracle", "stats-fm:x"
    unregister_alm("proxy-alm:")
    unregister_fm("stats-fm:")


class StatsFM:
    """Three statistics of the clip, as one layer: a weak specialist."""

    sampling_rate = 16000
    n_layers = 1
    hidden_size = 3

    def __init__(self, tag):
        self.fingerprint = f"stats-fm|{tag}"

    def encode(self, waves):
        return np.asarray([[[w.std(), np.abs(w).max(), np.mean(np.abs(np.diff(w)))]] for w in waves], np.float32)

    def probe_embedding(self):
        return np.ones(3, np.float32)


def test_an_oracle_encoder_gives_ccc_one_through_the_pipeline(proxy_corpus, oracle):
    alm, fm = oracle
    corpus = load_corpus("csv", proxy_corpus, dimensions=["arousal", "valence"])
    y = corpus.dimensions["valence"]
    pipe = Pipeline([
        ("features", FeatureUnion([("zs", ALMAttributeScorer(alm, dimensions=["arousal", "valence"], device="cpu")),
                                   ("fm", FMEmbedder(fm, device="cpu"))])),
        ("fusion", LateFusionRegressor(weight=1.0, dimension="valence")),
    ])
    train = corpus.folds != 1
    pipe.fit([p for p, t in zip(corpus.paths, train) if t], y[train])
    predicted = pipe.predict([p for p, t in zip(corpus.paths, ~train) if t])
    assert concordance_cc(y[~train], predicted) == pytest.approx(1.0, abs=1e-6)
    assert pipe.named_steps["fusion"].zero_shot_column_ == 1


def test_a_fitted_dimensional_pipeline_round_trips_through_skops_with_the_trusted_types(proxy_corpus, oracle):
    sio = pytest.importorskip("skops.io")
    from sklearn_zsfuse import SKOPS_TRUSTED_TYPES, LateFusionRegressorCV

    alm, fm = oracle
    corpus = load_corpus("csv", proxy_corpus, dimensions=["arousal", "valence"])
    pipe = Pipeline([
        ("features", FeatureUnion([("zs", ALMAttributeScorer(alm, device="cpu", dimensions=["arousal", "valence"])),
                                   ("fm", FMEmbedder(fm, device="cpu"))])),
        ("fusion", LateFusionRegressorCV(dimension="arousal", cv=3)),
    ]).fit(corpus.paths[:40], corpus.dimensions["arousal"][:40])
    data = sio.dumps(pipe)
    assert set(sio.get_untrusted_types(data=data)) <= set(SKOPS_TRUSTED_TYPES)
    back = sio.loads(data, trusted=SKOPS_TRUSTED_TYPES)
    np.testing.assert_allclose(back.predict(corpus.paths[40:50]), pipe.predict(corpus.paths[40:50]), rtol=1e-10)


def test_an_oracle_encoder_gives_ccc_one_through_the_whole_evaluation(proxy_corpus, oracle, tmp_path, capsys):
    alm, fm = oracle
    out = tmp_path / "out"
    argv = ["evaluate", "--dataset", "csv", "--root", str(proxy_corpus), "--target", "arousal", "valence",
            "--scale", "arousal=-1,1", "valence=-1,1", "--alm", alm, "--fm", fm, *GRID, "--out", str(out),
            "--device", "cpu", "--no-plots", "-q"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("arousal (scale -1 to 1)") and "| zs_fuse |" in printed
    doc = json.loads((out / "results.json").read_text())
    for d in ("arousal", "valence"):
        systems = doc["tables"][d]["systems"]
        for name in ("zero_shot", "zero_shot+ensemble", "zero_shot+ensemble+amplification", "zero_shot+rescaled",
                     "zs_fuse"):
            assert systems[name]["ccc"] == pytest.approx(1.0, abs=1e-6), (d, name)
        assert all(f["params"]["weight"] == 1.0 for f in systems["zs_fuse"]["folds"])
        assert systems["specialist"]["ccc"] < 0.9
        assert doc["tables"][d]["scale"]["low"] == -1.0
    assert doc["config"]["n_clips"] == 90 and doc["config"]["folds"] == [1, 2, 3, 4, 5]


def test_a_random_clap_leaves_the_fusion_within_noise_of_the_specialist(proxy_corpus, tiny_clap, tiny_wavlm):
    corpus = load_corpus("csv", proxy_corpus, dimensions={"arousal": "arousal"}, scales={"arousal": (-1, 1)})
    study = evaluate_dimensions(corpus, alm=tiny_clap, fm=tiny_wavlm, grid=Grid(audio_repeats=(1, 2),
                                text_repeats=(1,), weights=(0, 0.25, 0.5, 0.75, 1)), device="cpu")
    run = study.pairs[(tiny_clap, tiny_wavlm)]["arousal"]
    specialist = run.systems["specialist"].summary["ccc"]
    fused = run.systems["zs_fuse"].summary["ccc"]
    c = run.comparison["zs_fuse"]
    print(f"random CLAP: specialist CCC {specialist:.3f}, zs_fuse {fused:.3f}, pooled difference "
          f"{c['ccc_diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]")
    assert abs(fused - specialist) < 0.1
    assert c["ci_low"] <= 0.0 + 1e-9 or abs(c["ccc_diff"]) < 0.05  # no real gain from noise


def test_the_command_writes_the_dimensional_table_json_and_report(proxy_corpus, oracle, tiny_clap, tmp_path,
                                                                  capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    argv = ["evaluate", "--dataset", "csv", "--root", str(proxy_corpus), "--target", "arousal", "valence",
            "--alm", tiny_clap, "--fm", oracle[1], *GRID, "--out", str(out), "--device", "cpu", "-q"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| system | CCC | Pearson r | MAE |" in printed
    for name in ("results.json", "table.md", "selection.json", "report.html", "predicted_vs_rated.png"):
        assert (out / name).is_file(), name
    table = (out / "table.md").read_text()
    assert "## arousal: " in table and "Paired comparison with the specialist" in table
    assert "no scale given for arousal" in json.loads((out / "results.json").read_text())["config"]["notes"][-2]
    html = (out / "report.html").read_text()
    assert "data:image/png;base64" in html and "Predicted against rated" in html


def test_a_corpus_rated_on_dimensions_only_runs_without_categories(proxy_corpus, oracle, tmp_path, capsys):
    root = tmp_path / "rated"
    (root / "audio").mkdir(parents=True)
    lines = (proxy_corpus / "metadata.csv").read_text().splitlines()
    kept = [",".join(cells[:1] + cells[2:]) for cells in (line.split(",") for line in lines)][:31]  # no label
    for line in kept[1:]:
        shutil.copy(proxy_corpus / line.split(",")[0], root / line.split(",")[0])
    (root / "metadata.csv").write_text("\n".join(kept) + "\n")
    out = tmp_path / "out"
    assert main(["evaluate", "--dataset", "csv", "--root", str(root), "--target", "valence", "--alm", "none",
                 "--fm", oracle[1], "--out", str(out), "--no-plots", "-q"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert list(doc["tables"]["valence"]["systems"]) == ["specialist"]
    assert any("no label column" in n for n in doc["config"]["notes"])


def test_dimensional_options_are_checked_before_any_clip_is_read(proxy_corpus, tiny_wavlm, tmp_path, capsys):
    # tiny-wavlm, not eGeMAPS: the backends environment has no opensmile.
    base = ["evaluate", "--dataset", "csv", "--root", str(proxy_corpus), "--alm", "none", "--fm", str(tiny_wavlm),
            "--out", str(tmp_path / "o")]
    cases = [
        (["--target", "arousal", "--save-model"], "--save-model with --target"),
        (["--target", "arousal", "--class-weight", "balanced"], "--class-weight with --target"),
        (["--scale", "arousal=1,7"], "--scale goes with --target"),
        (["--target", "arousal", "--scale", "valence=1,7"], "--scale for ['valence']"),
        (["--target", "arousal", "--scale", "arousal=7,1"], "LOW < HIGH"),
        (["--target", "power"], "no column(s) ['power']"),
        # a cluster encodes into the cache folder the run then reads (tests/test_cluster.py)
        (["--target", "arousal", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --cache-dir"),
    ]
    for extra, message in cases:
        assert exit_status(base + extra) == 2, extra
        assert message in capsys.readouterr().err, extra
    assert exit_status(["evaluate", "--dataset", "ravdess", "--root", str(proxy_corpus), "--target", "arousal",
                        "--alm", "none", "--fm", str(tiny_wavlm)]) == 2
    assert "the ravdess corpus has no dimensional labels" in capsys.readouterr().err


def test_prompt_words_the_poles_of_a_dimension_and_reaches_the_scorer(proxy_corpus, oracle, tiny_clap, tmp_path,
                                                                     capsys):
    base = ["evaluate", "--dataset", "csv", "--root", str(proxy_corpus), "--alm", tiny_clap, "--fm", "none", "--grid", "na=1", "nt=1", "--device", "cpu", "--no-plots", "-q"]
    mistakes = [
        (["--target", "arousal", "--prompt", "arousal=calm"], "name a dimension's pole"),
        (["--target", "arousal", "--prompt", "valence/low=sad"], "'valence' is not among the dimensions"),
        (["--target", "arousal", "--prompt", "arousal/middle=so-so"], "the low and high poles only"),
        (["--target", "energy=arousal"], "word the poles with --prompt energy/low=WORD"),
        (["--target", "energy=arousal", "--prompt", "energy/low=calm"], "no words for the high pole of 'energy'"),
    ]
    for extra, message in mistakes:
        assert exit_status(base + extra + ["--out", str(tmp_path / "x")]) == 2, extra
        assert message in capsys.readouterr().err, extra
    # words with no scorer to use them
    assert exit_status(["evaluate", "--dataset", "csv", "--root", str(proxy_corpus), "--alm", "none", "--fm",
                        oracle[1], "--target", "arousal", "--prompt", "arousal/low=calm", "--out",
                        str(tmp_path / "x")]) == 2
    assert "--prompt words the zero-shot scorer's prompts, but --alm is none" in capsys.readouterr().err

    def zero_shot_ccc(name, extra):
        assert main(base + extra + ["--out", str(tmp_path / name)]) == 0
        doc = json.loads((tmp_path / name / "results.json").read_text())
        (dimension,) = doc["config"]["dimensions"]
        return doc["tables"][dimension]["systems"]["zero_shot"]["ccc"], doc["config"]["pole_prompts"]

    built_in, none_given = zero_shot_ccc("built-in", ["--target", "arousal"])
    # a pole left out keeps its built-in words; other words give other scores (tiny-clap's text side is random)
    reworded, given = zero_shot_ccc("reworded", ["--target", "arousal", "--prompt", "arousal/low=sleepy,drowsy"])
    assert none_given is None and given == {"arousal": {"low": ["sleepy", "drowsy"]}}
    assert reworded != pytest.approx(built_in, abs=1e-9)
    # a dimension with no built-in words runs once both its poles are worded
    same, worded = zero_shot_ccc("energy", ["--target", "energy=arousal", "--prompt", "energy/low=calm,low-energy",
                                            "energy/high=excited,high-energy"])
    assert worded == {"energy": {"low": ["calm", "low-energy"], "high": ["excited", "high-energy"]}}
    assert same == pytest.approx(built_in, abs=1e-9)  # arousal's built-in words, under another name


def exit_status(argv) -> int:
    """``main``'s status: usage errors leave through argparse (SystemExit 2), corpus errors return 2."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code
