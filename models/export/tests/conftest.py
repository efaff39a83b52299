"""Test setup: the exporter package (models/export) and the test stand-ins (tests/standins, which hold a
test-only `transformers` module) are importable; torch uses two threads."""
import os
import sys

import pytest
import torch

TESTS = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.dirname(TESTS)
REPO = os.path.dirname(os.path.dirname(EXPORT))
for _p in (os.path.join(TESTS, "standins"), EXPORT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def repo():
    return REPO
