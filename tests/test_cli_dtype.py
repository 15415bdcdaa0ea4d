"""zsfuse --dtype: the models' precision from the command line."""

import joblib
import numpy as np
import pytest

from sklearn_zsfuse import ALMZeroShotScorer, clear_models
from sklearn_zsfuse.encoders import loaded_models
from sklearn_zsfuse.cli import main


@pytest.fixture
def clips(ravdess_small):
    return ravdess_small[0][:3]


def _loaded_dtypes():
    return {key[-1] for key in loaded_models()}


def test_embed_runs_the_model_at_the_dtype_asked_for(tiny_clap, clips, tmp_path):
    clear_models()
    out = {}
    for dtype in ("float32", "bfloat16"):
        assert main(["embed", "--alm", tiny_clap, *clips, "--out", str(tmp_path / f"{dtype}.npy"),
                     "--device", "cpu", "--dtype", dtype, "-q"]) == 0
        out[dtype] = np.load(tmp_path / f"{dtype}.npy")
    assert _loaded_dtypes() == {"torch.float32", "torch.bfloat16"}
    assert not np.array_equal(out["float32"], out["bfloat16"])  # it did run in bfloat16
    assert (out["float32"] * out["bfloat16"]).sum(1).min() > 0.99  # normalised rows: cosine


def test_predict_can_override_the_saved_dtype(tiny_clap, clips, tmp_path, capsys):
    model = ALMZeroShotScorer(tiny_clap, classes=["angry", "calm"], device="cpu").fit()
    joblib.dump(model, tmp_path / "model.joblib")
    clear_models()
    assert main(["predict", str(tmp_path / "model.joblib"), *clips, "--dtype", "bfloat16"]) == 0
    assert _loaded_dtypes() == {"torch.bfloat16"}
    assert capsys.readouterr().out.count("\n") == 1 + len(clips)


def test_an_unknown_dtype_is_refused_by_name(clips, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["embed", "--alm", "x", *clips, "--out", str(tmp_path / "x.npy"), "--dtype", "float8"])
    assert exit_.value.code == 2
    assert "--dtype: invalid choice: 'float8'" in capsys.readouterr().err
