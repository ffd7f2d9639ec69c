"""Every module's docstring examples run, as part of ``make test`` (one test per module).

Run through :mod:`doctest` here rather than pytest's ``--doctest-modules``, which would also try
to import the test folders' ``conftest.py`` files as plain modules.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import pixelpush

MODULES = sorted(m.name for m in pkgutil.walk_packages(pixelpush.__path__, "pixelpush.") if not m.name.endswith("__main__"))


def test_the_package_has_doctests_to_run() -> None:
    with_examples = [name for name in MODULES if doctest.DocTestFinder().find(importlib.import_module(name))
                     and any(t.examples for t in doctest.DocTestFinder().find(importlib.import_module(name)))]
    assert len(with_examples) >= 15, with_examples


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name} (run python -m doctest -v)"
