"""The Stable Diffusion exporter end to end on stand-in pipeline folders (no diffusers): the package files,
the block graph against the stand-in UNet's full forward, the manifest fields of the contract, sha256s and
component goldens."""
import json
import os

import numpy as np
import pytest
import torch

import standin_pipelines as sp
from genloom_export import sampling
from genloom_export import stable_diffusion as S
from genloom_export.common import GraphRunner, check_package_files, max_abs, train_export


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """kind -> (pipeline folder, package folder, manifest, loader) for the three stand-in pipelines, exported
    as without diffusers (no sampling goldens), whatever this machine has installed."""
    root = tmp_path_factory.mktemp("sd")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sampling, "optional_diffusers", lambda: None)
        for kind in ("sd15", "sd2v", "sdxl"):
            pipe = sp.build(str(root), kind)
            loader = sp.StandinLoader()
            pkg = str(root / f"pkg-{kind}")
            manifest = S.export(pipe, pkg, loader=loader)
            out[kind] = (pipe, pkg, manifest, loader)
    return out


def test_package_layout(packages):
    for kind, (pipe, pkg, m, _) in packages.items():
        files = {c["file"] for c in m["components"]}
        assert {"text_encoder.pt", "vae_encoder.pt", "vae_decoder.pt", "unet/time_embedding.pt", "unet/conv_in.pt",
                "unet/mid_block.pt", "unet/conv_out.pt"} <= files
        assert ("text_encoder_2.pt" in files) == (kind == "sdxl")
        for f in files:
            assert os.path.isfile(os.path.join(pkg, f))
        assert os.path.isfile(os.path.join(pkg, "tokenizer", "tokenizer.json"))
        assert os.path.isfile(os.path.join(pkg, "tokenizer_2", "tokenizer.json")) == (kind == "sdxl")
        assert not os.path.exists(os.path.join(pkg, "tokenizer.json"))
        with open(os.path.join(pipe, "scheduler", "scheduler_config.json"), "rb") as a, \
                open(os.path.join(pkg, "scheduler", "scheduler_config.json"), "rb") as b:
            assert a.read() == b.read(), "the scheduler config is copied verbatim"
        for c in m["components"]:
            assert os.path.isfile(os.path.join(pkg, "golden", c["name"] + ".npz"))


def test_block_graph_equals_full_forward_at_three_sizes(packages):
    g = torch.Generator().manual_seed(5)
    for kind, (_, pkg, m, loader) in packages.items():
        runner = GraphRunner(pkg, m["components"], m["denoiser"])
        unet = loader.loaded["unet"]
        sdxl = kind == "sdxl"
        ehs_dim = 32 if sdxl else 24
        for (w, h), b in (((32, 32), 2), ((56, 40), 5), ((24, 64), 1)):
            x = torch.randn(b, 4, h // 4, w // 4, generator=g)
            t = torch.rand(b, generator=g) * 999
            c = torch.randn(b, 77, ehs_dim, generator=g)
            inputs = {"sample": x, "timestep": t, "encoder_hidden_states": c}
            added = None
            if sdxl:
                added = {"text_embeds": torch.randn(b, 20, generator=g),
                         "time_ids": torch.tensor([[h, w, 0, 0, h, w]] * b, dtype=torch.float32)}
                inputs.update(added)
            with torch.no_grad():
                ref = unet(x, t, c, added_cond_kwargs=added, return_dict=False)[0]
                d = max_abs(ref, runner(**inputs))
            assert d <= 1e-5, (kind, w, h, d)


def test_manifest_sd15(packages):
    _, _, m, _ = packages["sd15"]
    assert "tokenizer" not in m
    assert m["kind"] == "MODEL_KIND_LATENT_DIFFUSION"
    assert m["schedule"] == {"configFile": "scheduler/scheduler_config.json"}
    assert m["denoiser"]["inputs"] == ["sample", "timestep", "encoder_hidden_states"]
    assert m["denoiser"]["prediction"] == "PREDICTION_EPSILON"
    assert m["denoiser"]["output"] == "noise_pred"
    assert [b["name"] for b in m["denoiser"]["blocks"]] == [
        "time_embedding", "conv_in", "down_blocks.0", "down_blocks.1", "mid_block", "up_blocks.0", "up_blocks.1",
        "conv_out"]
    blocks = {b["name"]: b for b in m["denoiser"]["blocks"]}
    assert blocks["time_embedding"]["inputs"] == ["timestep"]
    assert blocks["down_blocks.0"]["outputs"] == ["down0_out", "down0_res0", "down0_res1", "down0_res2"]
    assert blocks["up_blocks.0"]["inputs"] == ["mid_out", "down0_res2", "down1_res0", "down1_res1", "temb"]
    assert blocks["up_blocks.1"]["inputs"] == ["up0_out", "h_in", "down0_res0", "down0_res1", "temb",
                                               "encoder_hidden_states"]
    assert [b["cacheable"] for b in m["denoiser"]["blocks"]] == [False, False, True, True, True, True, True, False]
    text = m["text"]
    assert text["zeroEmptyNegative"] is False and text["defaultClipSkip"] == 0 and "pooledFrom" not in text
    (enc,) = text["encoders"]
    assert enc["component"] == "text_encoder" and enc["hiddenLayer"] == 1 and enc["numHiddenStates"] == 3
    tok = enc["tokenizer"]
    with open(os.path.join(sp.DATA, "clip-sd15", "vocab.json")) as f:
        vocab = json.load(f)
    assert tok == {"file": "tokenizer/tokenizer.json", "maxLength": 77, "padId": vocab["<|endoftext|>"],
                   "bosId": vocab["<|startoftext|>"], "eosId": vocab["<|endoftext|>"],
                   "unkId": vocab["<|endoftext|>"], "lowercase": True}
    # Stand-in: VAE factor 4, one upsampler -> multiples of 8; sample_size 8 -> 32x32 by default.
    assert m["sizeConstraint"] == {"multipleOf": 8, "minWidth": 8, "maxWidth": 64, "minHeight": 8, "maxHeight": 64}
    assert m["latent"] == {"channels": 4, "height": 8, "width": 8, "frames": 1, "scaleFactor": 0.18215,
                           "downsample": 4}
    assert m["supportedSizes"] == [{"width": 32, "height": 32}]
    assert m["defaults"] == {"sampler": "ddim", "steps": 50, "guidanceScale": 7.5, "eta": 0.0, "width": 32,
                             "height": 32, "strength": 0.75, "guidanceRescale": 0.0}
    assert "PNDMScheduler has no Genloom sampler" in m["training"]["notes"]
    assert "not recorded: diffusers is not importable" in m["training"]["sampling_goldens"]


def test_manifest_dynamic_shapes(packages):
    _, _, m, _ = packages["sd15"]
    comps = {c["name"]: c for c in m["components"]}
    te = comps["text_encoder"]
    assert te["inputs"] == [{"name": "input_ids", "dtype": "DTYPE_INT64", "shape": [-1, 77]},
                            {"name": "hidden_layer", "dtype": "DTYPE_INT64", "shape": [1]}]
    assert te["outputs"] == [{"name": "hidden_states", "dtype": "DTYPE_FLOAT32", "shape": [-1, 77, 24]}]
    assert comps["vae_encoder"]["inputs"][0]["shape"] == [-1, 3, -1, -1]
    assert comps["vae_encoder"]["outputs"][0]["shape"] == [-1, 4, -1, -1]
    assert comps["vae_decoder"]["outputs"][0]["shape"] == [-1, 3, -1, -1]
    assert comps["unet.time_embedding"]["inputs"][0]["shape"] == [-1]
    assert comps["unet.time_embedding"]["outputs"][0]["shape"] == [-1, 128]
    for name in ("unet.conv_in", "unet.down_blocks.0", "unet.mid_block", "unet.up_blocks.1", "unet.conv_out"):
        for s in comps[name]["outputs"]:
            assert s["shape"][0] == -1 and s["shape"][2:] == [-1, -1], (name, s)


def test_manifest_sd2v(packages):
    _, _, m, _ = packages["sd2v"]
    assert m["denoiser"]["prediction"] == "PREDICTION_V"
    assert m["defaults"]["sampler"] == "ddim"
    assert m["text"]["encoders"][0]["tokenizer"]["padId"] == 0  # "!"


def test_manifest_sdxl(packages):
    _, pkg, m, _ = packages["sdxl"]
    assert m["denoiser"]["inputs"] == ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"]
    te = m["denoiser"]["blocks"][0]
    assert te["name"] == "time_embedding" and te["inputs"] == ["timestep", "text_embeds", "time_ids"]
    text = m["text"]
    assert text["pooledFrom"] == "text_encoder_2" and text["zeroEmptyNegative"] is True
    assert [e["component"] for e in text["encoders"]] == ["text_encoder", "text_encoder_2"]
    assert [e["hiddenLayer"] for e in text["encoders"]] == [2, 2]
    assert [e["numHiddenStates"] for e in text["encoders"]] == [3, 4]
    assert [e["tokenizer"]["file"] for e in text["encoders"]] == ["tokenizer/tokenizer.json",
                                                                  "tokenizer_2/tokenizer.json"]
    assert text["encoders"][1]["tokenizer"]["padId"] == 0
    comps = {c["name"]: c for c in m["components"]}
    assert [o["name"] for o in comps["text_encoder"]["outputs"]] == ["hidden_states"]
    assert comps["text_encoder_2"]["outputs"] == [
        {"name": "hidden_states", "dtype": "DTYPE_FLOAT32", "shape": [-1, 77, 16]},
        {"name": "pooled", "dtype": "DTYPE_FLOAT32", "shape": [-1, 20]}]
    assert comps["unet.time_embedding"]["inputs"] == [
        {"name": "timestep", "dtype": "DTYPE_FLOAT32", "shape": [-1]},
        {"name": "text_embeds", "dtype": "DTYPE_FLOAT32", "shape": [-1, 20]},
        {"name": "time_ids", "dtype": "DTYPE_FLOAT32", "shape": [-1, 6]}]
    assert m["defaults"]["sampler"] == "euler" and m["defaults"]["guidanceScale"] == 5.0
    g = np.load(os.path.join(pkg, "golden", "unet.time_embedding.npz"))
    assert g["time_ids"].tolist() == [[32, 32, 0, 0, 32, 32]] * 2


def test_sha256_and_component_goldens(packages):
    E = train_export()
    for kind, (_, pkg, m, _) in packages.items():
        check_package_files(pkg, m)
        E.validate_manifest(m)
        with open(os.path.join(pkg, "manifest.json")) as f:
            assert json.load(f) == m
        for enc in m["text"]["encoders"]:
            g = np.load(os.path.join(pkg, "golden", enc["component"] + ".npz"))
            assert g["hidden_layer"].tolist() == [enc["hiddenLayer"]] and g["hidden_layer"].dtype == np.int64
            assert g["input_ids"].shape == (2, 77) and g["input_ids"].dtype == np.int64
        assert [x["subject"] for x in m["goldens"]] == [c["name"] for c in m["components"]]


def test_existing_package_is_not_overwritten(packages, tmp_path):
    pipe, pkg, _, _ = packages["sd15"]
    with pytest.raises(S.Refused, match="already holds a package"):
        S.export(pipe, pkg, loader=sp.StandinLoader())
