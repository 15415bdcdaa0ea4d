"""A negative sample_weight is refused by name (issue 17, item 17).

It passed through to the classifier and the temperature fit, where a negative weight
turns a loss term into a reward; both fusion estimators now refuse it at ``fit``.
"""

from __future__ import annotations

import numpy as np
import pytest

from sklearn_zsfuse import LateFusionClassifier, LateFusionClassifierCV
from test_fusion_cv import clips


@pytest.mark.parametrize("estimator", [LateFusionClassifier(temperature="fit"), LateFusionClassifierCV(cv=3)],
                         ids=["LateFusionClassifier", "LateFusionClassifierCV"])
def test_negative_sample_weight_is_refused(estimator):
    zs, emb, y, _ = clips()
    X = np.hstack([zs, emb[:, 1:]])
    w = np.ones(len(y))
    w[5] = -2.0
    with pytest.raises(ValueError, match=r"sample_weight .*negative"):
        estimator.fit(X, y, sample_weight=w)
    w[5] = 0.0  # zero is a valid weight
    estimator.fit(X, y, sample_weight=w)
