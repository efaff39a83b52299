"""The exporters run as modules from models/export (python3 -m genloom_export.<name>)."""
import os
import subprocess
import sys

import pytest

import standin_pipelines as sp

EXPORT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, tmp_path, block_diffusers=False):
    path = [EXPORT]
    if block_diffusers:  # a `diffusers` that cannot be imported, whatever this machine has installed
        blocker = tmp_path / "blocker" / "diffusers"
        blocker.mkdir(parents=True)
        (blocker / "__init__.py").write_text("raise ImportError('diffusers is blocked for this test')\n")
        path.insert(0, str(blocker.parent))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    return subprocess.run([sys.executable, "-m"] + args, cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("module,option", [("genloom_export.stable_diffusion", "--golden-samplers"),
                                           ("genloom_export.dit", "--text-length"),
                                           ("genloom_export.inception", "--self-test")])
def test_help(tmp_path, module, option):
    r = run([module, "--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert option in r.stdout


def test_stable_diffusion_without_diffusers_says_so(tmp_path):
    pipe = sp.build(str(tmp_path), "sd15")
    r = run(["genloom_export.stable_diffusion", "--pipeline", pipe, "--out", str(tmp_path / "pkg")], tmp_path,
            block_diffusers=True)
    assert r.returncode == 1
    assert "error: this export needs the Python package diffusers" in r.stderr
    assert not (tmp_path / "pkg").exists()


def test_stable_diffusion_refusal_is_one_error_line(tmp_path):
    pipe = sp.build(str(tmp_path), "sd15", index={"_class_name": "StableDiffusionInpaintPipeline"})
    r = run(["genloom_export.stable_diffusion", "--pipeline", pipe, "--out", str(tmp_path / "pkg"),
             "--golden-sizes", "36x32"], tmp_path, block_diffusers=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: pipeline _class_name 'StableDiffusionInpaintPipeline' is not exported")
