"""Setup of the tests that need diffusers (not run by CI): the exporter package, the test stand-ins
(tests/standins, with the test-only `transformers`) and this folder are importable; torch uses two threads.
Run from models/export with diffusers importable: python3 -m pytest -q tests_diffusers"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.dirname(HERE)
for _p in (HERE, os.path.join(EXPORT, "tests", "standins"), EXPORT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

torch.set_num_threads(2)
