"""The examples in the geo docstrings are documentation a reader trusts: they must run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import geo

MODULES = sorted(m.name for m in pkgutil.iter_modules(geo.__path__, "geo."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
