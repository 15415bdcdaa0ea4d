"""The ``>>>`` examples of the package's docstrings run, in the default suite (issue 16)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import sklearn_zsfuse

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(sklearn_zsfuse.__path__, "sklearn_zsfuse."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        if any(test.examples for test in doctest.DocTestFinder().find(module)):
            names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_the_public_estimators_have_examples():
    public = {"sklearn_zsfuse.estimators.zero_shot", "sklearn_zsfuse.estimators.embedding",
              "sklearn_zsfuse.estimators.fusion", "sklearn_zsfuse.estimators.fusion_cv",
              "sklearn_zsfuse.estimators.pipeline"}
    assert public <= set(MODULES), sorted(public - set(MODULES))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=FLAGS, report=True, verbose=False)
    assert attempted > 0 and failed == 0, f"{failed} of {attempted} examples of {name} failed (see the output above)"
