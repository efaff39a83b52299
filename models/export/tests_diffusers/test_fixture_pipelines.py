"""Real diffusers pipelines shaped like the three fixtures, exported through the command line: the export
succeeds, the package passes its checks, and it reproduces the committed fixture's goldens (so the committed
fixtures are what build_fixtures.py builds)."""
import json
import os
import subprocess
import sys

import diffusers
import numpy as np
import pytest

import build_fixtures as B
from genloom_export.common import check_package_files

REPO_MODELS = os.path.join(B.REPO, "models")


def export(tmp_path, kind, extra=()):
    pipe = tmp_path / f"{kind}-pipeline"
    B.write_pipeline(diffusers, kind, str(pipe))
    out = tmp_path / "models" / B.FIXTURES[kind]["out"]
    cmd = B.export_command(kind, pipe.name) + list(extra)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([B.EXPORT, B.STANDINS] + sys.path))
    r = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(out / "manifest.json") as f:
        return str(out), json.load(f), r.stdout


@pytest.mark.parametrize("kind", list(B.FIXTURES))
def test_export_reproduces_the_committed_fixture(tmp_path, kind):
    pkg, m, stdout = export(tmp_path, kind)
    check_package_files(pkg, m)
    name = B.FIXTURES[kind]["out"]
    with open(os.path.join(REPO_MODELS, name, "manifest.json")) as f:
        committed = json.load(f)
    strip = ("components", "training")
    assert {k: v for k, v in m.items() if k not in strip} == {k: v for k, v in committed.items() if k not in strip}
    assert [c["name"] for c in m["components"]] == [c["name"] for c in committed["components"]]
    for entry in m["goldens"]:
        a = np.load(os.path.join(pkg, entry["file"]))
        b = np.load(os.path.join(REPO_MODELS, name, entry["file"]))
        assert a.files == b.files, entry
        for k in a.files:
            assert np.allclose(a[k], b[k], rtol=0, atol=1e-5), (entry["subject"], k)
    assert "latents 0" in m["training"]["sampling_goldens"]
    assert stdout.count("sampling golden sampling/") == len([g for g in m["goldens"] if g["subject"].startswith(
        "sampling/")])


def test_refuses_an_inpainting_unet(tmp_path):
    pipe = tmp_path / "inpaint-pipeline"
    B.write_pipeline(diffusers, "sd15", str(pipe))
    with open(pipe / "unet" / "config.json") as f:
        c = json.load(f)
    c["in_channels"] = 9
    with open(pipe / "unet" / "config.json", "w") as f:
        json.dump(c, f)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([B.EXPORT, B.STANDINS] + sys.path))
    r = subprocess.run([sys.executable, "-m", "genloom_export.stable_diffusion", "--pipeline", str(pipe), "--out",
                        str(tmp_path / "pkg")], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and "in_channels=9" in r.stderr
    assert not (tmp_path / "pkg").exists()


def test_other_default_size_and_sampler_subset(tmp_path):
    """An SD 1.5-shaped pipeline exported at a non-square default size, two samplers, the default extras."""
    pipe = tmp_path / "sd15-pipeline"
    B.write_pipeline(diffusers, "sd15", str(pipe))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([B.EXPORT, B.STANDINS] + sys.path))
    out = tmp_path / "pkg"
    r = subprocess.run([sys.executable, "-m", "genloom_export.stable_diffusion", "--pipeline", str(pipe), "--out",
                        str(out), "--width", "96", "--height", "64", "--golden-samplers", "euler_a,dpmpp2m",
                        "--golden-steps", "3", "--threads", "2"], env=env, capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    with open(out / "manifest.json") as f:
        m = json.load(f)
    assert m["latent"]["width"] == 12 and m["latent"]["height"] == 8
    assert m["sizeConstraint"]["maxWidth"] == 192 and m["sizeConstraint"]["maxHeight"] == 128
    assert [g["subject"] for g in m["goldens"] if g["subject"].startswith("sampling/")] == [
        "sampling/euler_a/96x64", "sampling/dpmpp2m/96x64", "sampling/euler_a/128x64", "sampling/dpmpp2m/128x64"]
    with open(out / "golden" / "sampling_euler_a_96x64.json") as f:
        side = json.load(f)
    assert side["steps"] == 3 and side["guidance_scale"] == 7.5
    check_package_files(str(out), m)
