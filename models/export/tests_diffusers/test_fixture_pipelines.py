"""Real diffusers pipelines shaped like the fixtures, exported through the command line: the export
succeeds, the package passes its checks, and it reproduces the committed fixture's goldens (so the committed
fixtures are what build_fixtures.py builds); SD3 without its T5 encoder, and SD3 refusals; a FLUX.1-schnell
shaped pipeline, and Flux refusals."""
import json
import os
import shutil
import subprocess
import sys

import diffusers
import numpy as np
import pytest
import torch

import build_fixtures as B
from genloom_export.common import check_package_files
from genloom_export.sampling import package_text

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


def run_export(tmp_path, pipe, *extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([B.EXPORT, B.STANDINS] + sys.path))
    out = tmp_path / "pkg"
    r = subprocess.run([sys.executable, "-m", "genloom_export.stable_diffusion", "--pipeline", str(pipe), "--out",
                        str(out), "--threads", "2"] + list(extra), env=env, capture_output=True, text=True,
                       timeout=1800)
    return r, out


def edit_json(path, change):
    with open(path) as f:
        c = json.load(f)
    change(c)
    with open(path, "w") as f:
        json.dump(c, f)


def test_sd3_without_t5(tmp_path):
    """model_index.json lists text_encoder_3 as [null, null]: no T5 component; diffusers' encode_prompt then gives
    77 zero rows of joint_attention_dim in its place, which the manifest says with zeroContextLength."""
    pipe = tmp_path / "sd3-pipeline"
    B.write_pipeline(diffusers, "sd3", str(pipe))

    def drop_t5(index):
        index["text_encoder_3"] = index["tokenizer_3"] = [None, None]

    edit_json(pipe / "model_index.json", drop_t5)
    for sub in ("text_encoder_3", "tokenizer_3"):
        shutil.rmtree(pipe / sub)
    r, out = run_export(tmp_path, pipe, "--golden-sizes", "64x64,96x64", "--golden-steps", "3", "--golden-guidance",
                        "5")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(out / "manifest.json") as f:
        m = json.load(f)
    check_package_files(str(out), m)
    assert "text_encoder_3" not in {c["name"] for c in m["components"]}
    text = m["text"]
    assert [e["component"] for e in text["encoders"]] == ["text_encoder", "text_encoder_2"]
    assert text["zeroContextLength"] == 77 and text["contextDim"] == 64
    assert "latents 0" in m["training"]["sampling_goldens"]
    assert "text conditioning 0" in m["training"]["sampling_goldens"]
    assert "64x64 L154 0.00e+00" in m["training"]["blocks_vs_full_transformer_max_abs"]
    assert m["training"]["checked_sizes"].startswith("64x64, 96x64, 64x128, 16x16 at text length 154;")
    g = np.load(out / "golden" / "sampling_euler_64x64.npz")
    assert "input_ids_2" not in g.files
    with open(out / "golden" / "sampling_euler_64x64.json") as f:
        side = json.load(f)
    ids = [torch.from_numpy(g[f"input_ids_{k}"]) for k in range(2)]
    un = [torch.from_numpy(g[f"uncond_ids_{k}"]) for k in range(2)]
    cond, uncond, pooled, _ = package_text(str(out), m, ids, un, side["negative_prompts"])
    assert cond.shape == uncond.shape == (2, 154, 64) and pooled.shape == (2, 48)
    assert (cond[:, 77:] == 0).all() and (cond[:, :77, 48:] == 0).all()


@pytest.mark.parametrize("where, change, message", [
    ("transformer/config.json", lambda c: c.update(qk_norm="rms_norm"), "qk_norm"),
    ("transformer/config.json", lambda c: c.update(pos_embed_max_size=None), "pos_embed_max_size is null"),
    ("scheduler/scheduler_config.json", lambda c: c.update(use_dynamic_shifting=True), "use_dynamic_shifting"),
])
def test_sd3_refusals(tmp_path, where, change, message):
    """A transformer config key this diffusers' SD3Transformer2DModel does not take (SD3.5's qk_norm before
    diffusers 0.31) would be dropped silently by diffusers: refused by name, as are the other unsupported
    settings."""
    pipe = tmp_path / "sd3-pipeline"
    B.write_pipeline(diffusers, "sd3", str(pipe))
    edit_json(pipe / where, change)
    r, out = run_export(tmp_path, pipe)
    assert r.returncode == 1 and message in r.stderr, r.stderr[-3000:]
    if message == "qk_norm":
        assert f"diffusers {diffusers.__version__}'s SD3Transformer2DModel does not take 'qk_norm'" in r.stderr
    assert not out.exists()


def flux_replay(pkg, m, g, side):
    """FluxPipeline's unshifted or shifted sigmas (tests/test_fixture_packages.flux_sigmas) over the package's files,
    no classifier-free guidance; returns (timesteps, final latents)."""
    from test_fixture_packages import flux_sigmas
    from genloom_export.common import GraphRunner
    with open(os.path.join(pkg, m["schedule"]["configFile"])) as f:
        config = json.load(f)
    seq = (side["height"] // 16) * (side["width"] // 16)
    sig, ts = flux_sigmas(config, side["steps"], seq)
    ids = [torch.from_numpy(g[f"input_ids_{k}"]) for k in range(2)]
    un = [torch.from_numpy(g[f"uncond_ids_{k}"]) for k in range(2)]
    cond, _, pooled, _ = package_text(pkg, m, ids, un, side["negative_prompts"])
    runner = GraphRunner(pkg, m["components"], m["denoiser"])
    x = torch.from_numpy(g["init_noise"]).double()
    for i, t in enumerate(ts):
        v = runner(sample=x.float(), timestep=torch.full((x.shape[0],), float(t)), encoder_hidden_states=cond,
                   text_embeds=pooled).double()
        x = x + (sig[i + 1] - sig[i]) * v
    return ts, x


def test_flux_schnell_shaped(tmp_path):
    """FLUX.1-schnell's shape: no guidance_embeds, so no `guidance` graph input (FluxPipeline then ignores the scale
    and runs no guidance pass; the goldens are recorded at 0, which runs none in the runtime either), and its
    scheduler config (no dynamic shifting, shift 1): the sigmas are FluxPipeline's linspace(1, 1/N, N) as they are."""
    sys.path.insert(0, os.path.join(B.EXPORT, "tests"))
    pipe = tmp_path / "flux-schnell-pipeline"
    B.write_pipeline(diffusers, "flux-schnell", str(pipe))
    r, out = run_export(tmp_path, pipe, "--width", "64", "--height", "64", "--golden-sizes", "64x64,96x64",
                        "--golden-steps", "4")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(out / "manifest.json") as f:
        m = json.load(f)
    check_package_files(str(out), m)
    assert m["denoiser"]["inputs"] == ["sample", "timestep", "encoder_hidden_states", "text_embeds"]
    assert m["defaults"]["guidanceScale"] == 0.0 and m["defaults"]["steps"] == 4
    assert m["schedule"]["sequencePatch"] == 2
    assert "latents 0" in m["training"]["sampling_goldens"]
    assert "text conditioning 0" in m["training"]["sampling_goldens"]
    assert "64x64 L256 0.00e+00" in m["training"]["blocks_vs_full_transformer_max_abs"]
    for size in ("64x64", "96x64"):
        g = np.load(out / "golden" / f"sampling_euler_{size}.npz")
        with open(out / "golden" / f"sampling_euler_{size}.json") as f:
            side = json.load(f)
        assert side["guidance_scale"] == 0.0 and side["classifier_free_guidance"] is False
        assert np.allclose(g["timesteps"], np.linspace(1.0, 0.25, 4) * 1000, rtol=0, atol=1e-3)
        ts, x = flux_replay(str(out), m, g, side)
        d = (x - torch.from_numpy(g["latent_final"]).double()).abs().max().item()
        assert d <= 1e-4, (size, d)


@pytest.mark.parametrize("where, change, extra, message", [
    ("transformer/config.json", lambda c: c.update(out_channels=64), (),
     f"diffusers {diffusers.__version__}'s FluxTransformer2DModel does not take 'out_channels'"),
    ("transformer/config.json", lambda c: c.update(patch_size=2), (), "patch_size=2"),
    ("transformer/config.json", lambda c: c.update(axes_dims_rope=[2, 6, 6]), (), "axes_dims_rope=[2, 6, 6]"),
    ("transformer/config.json", lambda c: c.update(in_channels=16), (), "in_channels=16 is not 4 x"),
    ("scheduler/scheduler_config.json", lambda c: c.update(_class_name="EulerDiscreteScheduler"), (),
     "exported with FlowMatchEulerDiscreteScheduler only"),
    ("model_index.json", lambda c: c.update(_class_name="FluxImg2ImgPipeline"), (),
     "'FluxImg2ImgPipeline' is not exported"),
    ("text_encoder/config.json", lambda c: c.update(architectures=["CLIPTextModelWithProjection"]), (),
     "architecture 'CLIPTextModelWithProjection' is not exported"),
    (None, None, ("--width", "72", "--height", "64"), "default size 72x64 is not a multiple of 16"),
    (None, None, ("--max-sequence-length", "600"), "--max-sequence-length 600"),
])
def test_flux_refusals(tmp_path, where, change, extra, message):
    """What the Flux exporter cannot represent is refused by name before anything is written."""
    pipe = tmp_path / "flux-pipeline"
    B.write_pipeline(diffusers, "flux", str(pipe))
    if where:
        edit_json(pipe / where, change)
    r, out = run_export(tmp_path, pipe, "--width", "64", "--height", "64", *extra)
    assert r.returncode == 1 and message in r.stderr, r.stderr[-3000:]
    assert not out.exists()


def test_flux_schnell_refuses_goldens_with_guidance(tmp_path):
    """Without guidance_embeds FluxPipeline ignores a scale the runtime would use for classifier-free guidance."""
    pipe = tmp_path / "flux-schnell-pipeline"
    B.write_pipeline(diffusers, "flux-schnell", str(pipe))
    r, out = run_export(tmp_path, pipe, "--width", "64", "--height", "64", "--golden-guidance", "3.5")
    assert r.returncode == 1 and "this transformer has no guidance_embeds" in r.stderr, r.stderr[-3000:]
    assert not out.exists()


def cogvideox_refusal(tmp_path, kind, edit=None, extra=()):
    """Writes a CogVideoX fixture pipeline, applies edit(folder), runs the exporter; returns its stderr (the export
    must fail with rc 1 and leave no package)."""
    pipe = tmp_path / f"{kind}-pipeline"
    B.write_pipeline(diffusers, kind, str(pipe))
    if edit:
        edit(pipe)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([B.EXPORT, B.STANDINS] + sys.path))
    r = subprocess.run([sys.executable, "-m", "genloom_export.stable_diffusion", "--pipeline", str(pipe), "--out",
                        str(tmp_path / "pkg"), "--golden-steps", "2"] + list(extra), env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    assert not (tmp_path / "pkg").exists()
    return r.stderr


def config_edit(path, **changes):
    def edit(pipe):
        with open(pipe / path) as f:
            c = json.load(f)
        c.update(changes)
        with open(pipe / path, "w") as f:
            json.dump(c, f)
    return edit


@pytest.mark.parametrize("edit, extra, message", [
    (config_edit("model_index.json", _class_name="CogVideoXVideoToVideoPipeline"), (),
     "'CogVideoXVideoToVideoPipeline': only CogVideoXPipeline and CogVideoXImageToVideoPipeline"),
    (config_edit("transformer/config.json", ofs_embed_dim=512), (), "ofs_embed_dim=512"),
    (config_edit("transformer/config.json", patch_size_t=2), (), "patch_size_t=2"),
    (config_edit("transformer/config.json", use_rotary_positional_embeddings=False), (), "sincos"),
    (config_edit("transformer/config.json", attention_head_dim=12), (), "attention_head_dim=12"),
    (config_edit("vae/config.json", use_quant_conv=True), (), "use_quant_conv=true"),
    (config_edit("vae/config.json", shift_factor=0.1), (), "shift_factor=0.1"),
    (config_edit("scheduler/scheduler_config.json", _class_name="DDIMScheduler"), (), "'DDIMScheduler'"),
    (config_edit("scheduler/scheduler_config.json", beta_schedule="linear"), (), "beta_schedule='linear'"),
    (None, ("--num-frames", "13"), "gives 4 latent frames"),
    (None, ("--golden-frames", "21"), "golden frame count 21 gives 6 latent frames"),
    (None, ("--num-frames", "57"), "at most 49 frames"),
    (None, ("--golden-samplers", "euler"), "golden sampler 'euler'"),
])
def test_cogvideox_refusals(tmp_path, edit, extra, message):
    assert message in cogvideox_refusal(tmp_path, "cogvideox", edit, extra)


def test_cogvideox_i2v_refuses_text_to_video_channels(tmp_path):
    err = cogvideox_refusal(tmp_path, "cogvideox-i2v", config_edit("transformer/config.json", in_channels=4))
    assert "in_channels=4" in err and "2 x the VAE's latent_channels 4" in err
