"""The committed conformance fixtures (models/fixture-sd15, fixture-sd2-v, fixture-sdxl, fixture-sd15-flow,
fixture-sd3, fixture-flux), checked without diffusers: the manifest contract, sha256s and component goldens, the
sampling golden files and sidecars, and an independent replay of every DDIM golden -- DDIM written here from its
formulas (Song et al. 2021, with diffusers' timestep and final-alpha conventions), the package's own
TorchScript blocks, text encoders combined as the manifest's `text` says -- which must land on the recorded
final latents; likewise every flow-match Euler golden, from the rectified-flow formulas with SD3's shifted
sigmas (Esser et al. 2024), or for fixture-flux FluxPipeline's sigmas with the image-sequence-length shift and
the guidance scale as the transformer's input, and its decoded pixels. The latent video fixtures
(models/fixture-cogvideox, fixture-cogvideox-i2v) are checked for their manifest contract and golden layout,
and every DDIM golden is replayed from CogVideoX's schedule and DDIM formulas through the package's text
encoder, blocks, VAE encoder and decoder chunks."""
import json
import math
import os

import numpy as np
import pytest
import torch

from genloom_export.common import GraphRunner, check_package_files, train_export
from genloom_export.sampling import package_text

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FIXTURES = ["fixture-sd15", "fixture-sd2-v", "fixture-sdxl", "fixture-sd15-flow", "fixture-sd3", "fixture-flux"]
SIDECAR_KEYS = {"sampler", "scheduler", "steps", "guidance_scale", "guidance_rescale", "eta", "clip_skip", "width",
                "height", "prompts", "negative_prompts", "truncated_tokens", "diffusers_version"}
SCHEDULERS = {"ddim": "DDIMScheduler", "dpmpp2m": "DPMSolverMultistepScheduler", "euler": "EulerDiscreteScheduler",
              "euler_a": "EulerAncestralDiscreteScheduler"}
FLOW = "FlowMatchEulerDiscreteScheduler"


def load(name):
    pkg = os.path.join(REPO, "models", name)
    with open(os.path.join(pkg, "manifest.json")) as f:
        return pkg, json.load(f)


def scheduler_config(name):
    pkg, m = load(name)
    with open(os.path.join(pkg, m["schedule"]["configFile"])) as f:
        return json.load(f)


def is_flow(name):
    return scheduler_config(name)["_class_name"] == FLOW


# sizeConstraint.multipleOf: VAE factor 8 x 2**(UNet levels - 1) = 32, or x the transformer's patch size 2 = 16
MULTIPLE_OF = {"fixture-sd3": 16, "fixture-flux": 16}
# what each fixture's sampling goldens were recorded at (diffusers' loop and the runtime agree on CFG: Flux runs none)
GOLDEN_GUIDANCE = {"fixture-flux": 3.5}
FLUX_SIDECAR_KEYS = SIDECAR_KEYS | {"classifier_free_guidance"}


def sampling_goldens(manifest):
    return [g for g in manifest["goldens"] if g["subject"].startswith("sampling/")]


def read_golden(pkg, entry):
    arrays = np.load(os.path.join(pkg, entry["file"]))
    with open(os.path.join(pkg, entry["file"][:-len(".npz")] + ".json")) as f:
        return arrays, json.load(f)


@pytest.mark.parametrize("name", FIXTURES)
def test_manifest_and_components(name):
    pkg, m = load(name)
    train_export().validate_manifest(m)
    check_package_files(pkg, m)
    assert m["name"] == name
    assert m["description"].startswith("Random-weight conformance fixture")
    assert m["schedule"] == dict({"configFile": "scheduler/scheduler_config.json"},
                                 **({"sequencePatch": 2} if name == "fixture-flux" else {}))
    k = MULTIPLE_OF.get(name, 32)
    assert m["sizeConstraint"]["multipleOf"] == k
    assert (m["sizeConstraint"]["minWidth"], m["sizeConstraint"]["maxWidth"]) == (k, 128)
    assert (m["sizeConstraint"]["minHeight"], m["sizeConstraint"]["maxHeight"]) == (k, 128)
    assert m["supportedSizes"] == [{"width": 64, "height": 64}]
    assert m["latent"]["height"] == m["latent"]["width"] == 8 and m["latent"]["downsample"] == 8
    assert "tokenizer" not in m
    for enc in m["text"]["encoders"]:
        assert os.path.isfile(os.path.join(pkg, enc["tokenizer"]["file"]))
    assert "/" not in m["training"]["source"]


def test_fixture_specifics():
    _, sd15 = load("fixture-sd15")
    _, sd2 = load("fixture-sd2-v")
    _, xl = load("fixture-sdxl")
    with open(os.path.join(REPO, "models", "fixture-sd15", "scheduler", "scheduler_config.json")) as f:
        assert json.load(f) == {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                                "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False,
                                "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
                                "clip_sample": False}
    with open(os.path.join(REPO, "models", "fixture-sd2-v", "scheduler", "scheduler_config.json")) as f:
        c = json.load(f)
        assert c["prediction_type"] == "v_prediction" and c["rescale_betas_zero_snr"] is True
        assert c["timestep_spacing"] == "trailing"
    with open(os.path.join(REPO, "models", "fixture-sdxl", "scheduler", "scheduler_config.json")) as f:
        c = json.load(f)
        assert c["_class_name"] == "EulerDiscreteScheduler" and c["use_karras_sigmas"] is True
        assert c["timestep_spacing"] == "leading" and c["interpolation_type"] == "linear"
    assert sd15["denoiser"]["prediction"] == "PREDICTION_EPSILON" and sd15["defaults"]["sampler"] == "ddim"
    assert sd2["denoiser"]["prediction"] == "PREDICTION_V"
    assert xl["denoiser"]["prediction"] == "PREDICTION_EPSILON" and xl["defaults"]["sampler"] == "euler"
    assert sd15["text"]["encoders"][0]["tokenizer"]["padId"] == sd15["text"]["encoders"][0]["tokenizer"]["eosId"]
    assert sd2["text"]["encoders"][0]["tokenizer"]["padId"] != sd2["text"]["encoders"][0]["tokenizer"]["eosId"]
    assert [e["hiddenLayer"] for e in xl["text"]["encoders"]] == [2, 2]
    assert xl["text"]["pooledFrom"] == "text_encoder_2" and xl["text"]["zeroEmptyNegative"] is True
    assert xl["latent"]["scaleFactor"] == 0.13025
    assert xl["denoiser"]["inputs"][-2:] == ["text_embeds", "time_ids"]
    _, flow = load("fixture-sd15-flow")
    with open(os.path.join(REPO, "models", "fixture-sd15-flow", "scheduler", "scheduler_config.json")) as f:
        assert json.load(f) == {"_class_name": FLOW, "num_train_timesteps": 1000, "shift": 3.0}
    assert flow["denoiser"]["prediction"] == "PREDICTION_FLOW_VELOCITY" and flow["defaults"]["sampler"] == "euler"
    assert {g["subject"] for g in sampling_goldens(flow)} == {"sampling/euler/64x64", "sampling/euler/96x64"}
    assert [(b["width"], b["height"]) for b in xl["sizeConstraint"]["buckets"]] == [
        (64, 64), (96, 64), (64, 96), (128, 64), (64, 128)]
    subjects = {g["subject"] for g in sampling_goldens(sd15)}
    assert subjects == {f"sampling/{s}/{w}" for s in SCHEDULERS for w in ("64x64", "96x64")} | {
        "sampling/ddim/64x64/eta0.3"}


def test_sd3_specifics():
    pkg, m = load("fixture-sd3")
    assert scheduler_config("fixture-sd3") == {"_class_name": FLOW, "num_train_timesteps": 1000, "shift": 3.0}
    text = m["text"]
    assert [e["component"] for e in text["encoders"]] == ["text_encoder", "text_encoder_2", "text_encoder_3"]
    assert [e.get("join") for e in text["encoders"]] == ["JOIN_FEATURES", "JOIN_FEATURES", "JOIN_SEQUENCE"]
    assert [e.get("hiddenLayer") for e in text["encoders"]] == [2, 2, None]  # diffusers: hidden_states[-2]
    assert [e["tokenizer"]["maxLength"] for e in text["encoders"]] == [77, 77, 256]
    t5 = text["encoders"][2]["tokenizer"]
    assert (t5["padId"], t5["bosId"], t5["eosId"], t5["unkId"], t5["lowercase"]) == (0, 0, 1, 2, False)
    assert text["encoders"][1]["tokenizer"]["padId"] == 0, "tokenizer_2 pads with '!', as SD3's CLIP-G"
    assert text["pooledComponents"] == ["text_encoder", "text_encoder_2"] and "pooledFrom" not in text
    assert text["contextDim"] == 64 and "zeroContextLength" not in text
    assert text["zeroEmptyNegative"] is False and text["defaultClipSkip"] == 0
    comps = {c["name"]: c for c in m["components"]}
    assert [s["name"] for s in comps["text_encoder_3"]["inputs"]] == ["input_ids"]
    assert [s["name"] for s in comps["text_encoder_3"]["outputs"]] == ["hidden_states"]
    assert all([s["name"] for s in comps[n]["outputs"]] == ["hidden_states", "pooled"]
               for n in ("text_encoder", "text_encoder_2"))
    d = m["denoiser"]
    assert d["inputs"] == ["sample", "timestep", "encoder_hidden_states", "text_embeds"]
    assert d["prediction"] == "PREDICTION_FLOW_VELOCITY" and d["output"] == "noise_pred"
    assert [b["name"] for b in d["blocks"]] == ["transformer.embed"] + [f"transformer_blocks.{i}" for i in range(4)] + [
        "transformer.final_layer"]
    for i, b in enumerate(d["blocks"][1:5]):
        assert b["group"] == "transformer_blocks" and b["cacheable"]
        assert b["inputs"] == [d["blocks"][i]["outputs"][0], "temb", "encoder_hidden_states"]
    assert not d["blocks"][0]["cacheable"] and not d["blocks"][-1]["cacheable"]
    assert d["blocks"][-1]["inputs"][-2:] == ["encoder_hidden_states", "sample"]
    # every size and the text length are read from the inputs: the sequence axes are dynamic
    assert comps["transformer_blocks.0"]["inputs"][0]["shape"] == [-1, -1, 16]
    assert comps["transformer.embed"]["inputs"][0]["shape"] == [-1, 16, -1, -1]
    assert m["latent"]["channels"] == 16 and m["latent"]["scaleFactor"] == 1.5305
    assert m["training"]["vae_shift_factor"].startswith("0.0609 ")
    assert m["defaults"]["sampler"] == "euler" and m["defaults"]["steps"] == 28
    assert m["defaults"]["guidanceScale"] == 7.0
    assert {g["subject"] for g in sampling_goldens(m)} == {"sampling/euler/64x64", "sampling/euler/96x64"}
    # diffusers' layout: [CLIP-L | CLIP-G | zeros] for the first 77 rows, then T5's 256 rows
    g, side = read_golden(pkg, sampling_goldens(m)[0])
    ids = [torch.from_numpy(g[f"input_ids_{k}"]) for k in range(3)]
    un = [torch.from_numpy(g[f"uncond_ids_{k}"]) for k in range(3)]
    cond, uncond, pc, pu = package_text(pkg, m, ids, un, side["negative_prompts"])
    assert cond.shape == uncond.shape == (2, 77 + 256, 64) and pc.shape == pu.shape == (2, 48)
    assert (cond[:, :77, 48:] == 0).all() and (cond[:, :77, :48] != 0).any() and (cond[:, 77:] != 0).any()
    assert (uncond[0] != 0).any(), "an empty negative prompt is encoded, not zeroed"


def test_flux_specifics():
    pkg, m = load("fixture-flux")
    # FLUX.1-dev's scheduler_config.json
    assert scheduler_config("fixture-flux") == {
        "_class_name": FLOW, "base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 4096,
        "max_shift": 1.15, "num_train_timesteps": 1000, "shift": 3.0, "use_dynamic_shifting": True}
    assert m["schedule"]["sequencePatch"] == 2  # FluxPipeline's sigmas and mu of (h/2)(w/2) tokens
    text = m["text"]
    assert [e["component"] for e in text["encoders"]] == ["text_encoder", "text_encoder_2"]
    assert [e["join"] for e in text["encoders"]] == ["JOIN_NONE", "JOIN_FEATURES"]
    assert all("hiddenLayer" not in e and "numHiddenStates" not in e for e in text["encoders"])
    assert [e["tokenizer"]["maxLength"] for e in text["encoders"]] == [77, 512]  # FluxPipeline's T5 default
    assert text["pooledFrom"] == "text_encoder" and "pooledComponents" not in text and "contextDim" not in text
    assert text["zeroEmptyNegative"] is False and text["defaultClipSkip"] == 0
    comps = {c["name"]: c for c in m["components"]}
    for name, outs in (("text_encoder", ["hidden_states", "pooled"]), ("text_encoder_2", ["hidden_states"])):
        assert [s["name"] for s in comps[name]["inputs"]] == ["input_ids"]
        assert [s["name"] for s in comps[name]["outputs"]] == outs
    d = m["denoiser"]
    assert d["inputs"] == ["sample", "timestep", "encoder_hidden_states", "text_embeds", "guidance"]
    assert d["prediction"] == "PREDICTION_FLOW_VELOCITY" and d["output"] == "noise_pred"
    names = [b["name"] for b in d["blocks"]]
    assert names == (["transformer.embed"] + [f"transformer_blocks.{i}" for i in range(2)]
                     + [f"single_transformer_blocks.{i}" for i in range(2)] + ["transformer.final_layer"])
    embed, final = d["blocks"][0], d["blocks"][-1]
    assert embed["inputs"] == d["inputs"] and embed["outputs"] == ["joint_in", "temb", "image_rotary_emb"]
    assert not embed["cacheable"] and not final["cacheable"]
    for i, b in enumerate(d["blocks"][1:5]):
        double = b["name"].startswith("transformer_blocks.")
        assert b["group"] == ("transformer_blocks" if double else "single_transformer_blocks") and b["cacheable"]
        assert b["inputs"] == [d["blocks"][i]["outputs"][0], "temb", "image_rotary_emb"] + (
            ["encoder_hidden_states"] if double else [])
    assert final["inputs"] == [d["blocks"][4]["outputs"][0], "temb", "encoder_hidden_states", "sample"]
    # 4-D latents in and out (the 2x2 packing is inside), sizes and text length read from the inputs
    assert comps["transformer.embed"]["inputs"][0]["shape"] == [-1, 16, -1, -1]
    assert comps["transformer.final_layer"]["outputs"][0]["shape"] == [-1, 16, -1, -1]
    assert comps["transformer_blocks.0"]["inputs"][0]["shape"] == [-1, -1, 32]
    assert comps["transformer_blocks.0"]["inputs"][2]["shape"] == [-1, 1, -1, 8, 2, 2]  # rotary, head dim 16
    assert m["latent"]["channels"] == 16 and m["latent"]["scaleFactor"] == 0.3611
    assert m["training"]["vae_shift_factor"].startswith("0.1159 ")
    assert m["defaults"]["sampler"] == "euler" and m["defaults"]["steps"] == 28
    assert m["defaults"]["guidanceScale"] == 3.5
    assert {g["subject"] for g in sampling_goldens(m)} == {"sampling/euler/64x64", "sampling/euler/96x64"}
    for entry in sampling_goldens(m):
        g, side = read_golden(pkg, entry)
        assert side["classifier_free_guidance"] is False and side["negative_prompts"] == ["", ""]
        ids = [torch.from_numpy(g[f"input_ids_{k}"]) for k in range(2)]
        un = [torch.from_numpy(g[f"uncond_ids_{k}"]) for k in range(2)]
        cond, _, pooled, _ = package_text(pkg, m, ids, un, side["negative_prompts"])
        assert cond.shape == (2, 512, 64) and pooled.shape == (2, 32)


@pytest.mark.parametrize("name", FIXTURES)
def test_sampling_golden_files(name):
    pkg, m = load(name)
    entries = sampling_goldens(m)
    assert len(entries) >= (2 if is_flow(name) else 8)
    n_enc = len(m["text"]["encoders"])
    toks = [e["tokenizer"] for e in m["text"]["encoders"]]
    C = m["latent"]["channels"]
    for entry in entries:
        g, side = read_golden(pkg, entry)
        _, sampler, size = entry["subject"].split("/")[:3]
        assert set(side) == (FLUX_SIDECAR_KEYS if name == "fixture-flux" else SIDECAR_KEYS), entry
        assert side["sampler"] == sampler and side["scheduler"] == (FLOW if is_flow(name) else SCHEDULERS[sampler])
        assert f"{side['width']}x{side['height']}" == size
        assert side["steps"] == 6 and side["guidance_scale"] == GOLDEN_GUIDANCE.get(name, 5.0)
        assert side["clip_skip"] == 0
        assert side["guidance_rescale"] == (0.7 if name == "fixture-sd2-v" else 0.0)
        assert side["eta"] == (0.3 if entry["subject"].endswith("eta0.3") else 0.0)
        B, W, H, f = len(side["prompts"]), side["width"], side["height"], 8
        assert B == 2 and len(side["negative_prompts"]) == 2 and len(side["truncated_tokens"]) == 2
        assert side["truncated_tokens"][0] == 0 and side["truncated_tokens"][1] > 0, "one prompt is over-long"
        shapes = {"init_noise": (B, C, H // f, W // f), "timesteps": (6,), "latent_final": (B, C, H // f, W // f),
                  "pixels": (B, 3, H, W)}
        drawn = (sampler in ("euler", "euler_a") and not is_flow(name)) or side["eta"] > 0
        if drawn:
            shapes["step_noise"] = (6, B, C, H // f, W // f)
        for k, tok in enumerate(toks):
            shapes[f"input_ids_{k}"] = shapes[f"uncond_ids_{k}"] = (B, tok["maxLength"])
        assert {k: g[k].shape for k in g.files} == shapes, entry
        for k in g.files:
            assert g[k].dtype == (np.int64 if "_ids_" in k else np.float32), (entry, k)
        for k, tok in enumerate(toks):
            ids, un = g[f"input_ids_{k}"], g[f"uncond_ids_{k}"]
            if tok["bosId"]:  # CLIP: [bos] tokens [eos], the over-long prompt cut with its eos kept last
                assert (ids[:, 0] == tok["bosId"]).all() and ids[1, tok["maxLength"] - 1] == tok["eosId"]
                assert un[0, :2].tolist() == [tok["bosId"], tok["eosId"]] and set(un[0, 2:]) == {tok["padId"]}
            else:  # T5: tokens </s>, padded; "" is [</s>]
                for row in ids:
                    n = int(np.argmax(row == tok["eosId"]))
                    assert n > 0 and set(row[n + 1:]) <= {tok["padId"]} and tok["eosId"] not in row[:n]
                assert un[0, 0] == tok["eosId"] and set(un[0, 1:]) == {tok["padId"]}
        assert np.isfinite(g["pixels"]).all() and np.abs(g["latent_final"]).max() > 0


def alphas_cumprod(config):
    """alphas_cumprod of a scaled_linear schedule, with zero-terminal-SNR rescaling (Lin et al. 2024, Algorithm 1)
    when the config asks for it."""
    assert config.get("beta_schedule") == "scaled_linear"
    n = config["num_train_timesteps"]
    betas = np.linspace(math.sqrt(config["beta_start"]), math.sqrt(config["beta_end"]), n) ** 2
    ac = np.cumprod(1.0 - betas)
    if config.get("rescale_betas_zero_snr"):
        s = np.sqrt(ac)
        s0, sT = s[0], s[-1]
        s = (s - sT) * s0 / (s0 - sT)
        ac = s ** 2
    return ac


def ddim_replay(pkg, m, g, side):
    """Replays a DDIM sampling golden with the package's TorchScript files; returns the final latents."""
    with open(os.path.join(pkg, m["schedule"]["configFile"])) as f:
        config = json.load(f)
    ac = alphas_cumprod(config)
    final = 1.0 if config.get("set_alpha_to_one", True) else ac[0]
    steps = side["steps"]
    ids = [torch.from_numpy(g[f"input_ids_{k}"]) for k in range(len(m["text"]["encoders"]))]
    un = [torch.from_numpy(g[f"uncond_ids_{k}"]) for k in range(len(m["text"]["encoders"]))]
    cond, uncond, pooled_c, pooled_u = package_text(pkg, m, ids, un, side["negative_prompts"])
    runner = GraphRunner(pkg, m["components"], m["denoiser"])
    v_pred = m["denoiser"]["prediction"] == "PREDICTION_V"
    x = torch.from_numpy(g["init_noise"]).double()  # DDIM's init_noise_sigma is 1
    B = x.shape[0]
    noise = torch.from_numpy(g["step_noise"]).double() if "step_noise" in g.files else None
    for i, t in enumerate(g["timesteps"].astype(np.int64)):
        inputs = {"sample": torch.cat([x, x]).float(), "timestep": torch.full((2 * B,), float(t)),
                  "encoder_hidden_states": torch.cat([uncond, cond])}
        if "text_embeds" in m["denoiser"]["inputs"]:
            tid = torch.tensor([[side["height"], side["width"], 0, 0, side["height"], side["width"]]] * (2 * B),
                               dtype=torch.float32)
            inputs.update(text_embeds=torch.cat([pooled_u, pooled_c]), time_ids=tid)
        out_u, out_c = runner(**inputs).double().chunk(2)
        out = out_u + side["guidance_scale"] * (out_c - out_u)
        phi = side["guidance_rescale"]
        if phi > 0:  # Lin et al. 2024, section 3.4
            dims = tuple(range(1, out.dim()))
            rescaled = out * out_c.std(dim=dims, keepdim=True) / out.std(dim=dims, keepdim=True)
            out = phi * rescaled + (1 - phi) * out
        prev = t - config["num_train_timesteps"] // steps
        a_t, a_prev = ac[t], (ac[prev] if prev >= 0 else final)
        if v_pred:
            x0 = math.sqrt(a_t) * x - math.sqrt(1 - a_t) * out
            eps = math.sqrt(a_t) * out + math.sqrt(1 - a_t) * x
        else:
            x0 = (x - math.sqrt(1 - a_t) * out) / math.sqrt(a_t)
            eps = out
        sigma = side["eta"] * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
        x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev - sigma ** 2) * eps
        if sigma > 0:
            x = x + sigma * noise[i]
    return x


@pytest.mark.parametrize("name", [n for n in FIXTURES if not is_flow(n)])
def test_ddim_goldens_replay(name):
    pkg, m = load(name)
    entries = [e for e in sampling_goldens(m) if e["subject"].startswith("sampling/ddim/")]
    assert entries
    for entry in entries:
        g, side = read_golden(pkg, entry)
        x = ddim_replay(pkg, m, g, side)
        want = torch.from_numpy(g["latent_final"]).double()
        d = (x - want).abs().max().item()
        assert d <= 1e-4 * max(1.0, want.abs().max().item()), (entry["subject"], d)


def flow_sigmas(config, steps):
    """SD3's shifted sigmas: training sigmas t / n for t = n..1 shifted by s(x) = shift x / (1 + (shift - 1) x),
    `steps` inference timesteps spaced linearly between the shifted extremes (times n) and shifted again,
    then a final sigma of 0. Returns (sigmas [steps + 1], model timesteps [steps])."""
    n, shift = config["num_train_timesteps"], config.get("shift", 1.0)
    s = (lambda x: shift * x / (1 + (shift - 1) * x))
    t = np.linspace(s(1.0) * n, s(1.0 / n) * n, steps)
    sig = s(t / n)
    return np.append(sig, 0.0), sig * n


def flux_sigmas(config, steps, image_seq_len):
    """FluxPipeline's schedule (diffusers 0.30.3): sigmas linspace(1, 1/N, N), then with use_dynamic_shifting the
    time shift e^mu / (e^mu + (1/s - 1)) with mu linear in the image sequence length, from base_shift at
    base_image_seq_len to max_shift at max_image_seq_len (its calculate_shift), else SD3's shift of s; then a
    final sigma of 0. Returns (sigmas [steps + 1], model timesteps [steps])."""
    n = config["num_train_timesteps"]
    s = np.linspace(1.0, 1.0 / steps, steps)
    if config.get("use_dynamic_shifting"):
        slope = ((config["max_shift"] - config["base_shift"])
                 / (config["max_image_seq_len"] - config["base_image_seq_len"]))
        mu = config["base_shift"] + slope * (image_seq_len - config["base_image_seq_len"])
        sig = math.exp(mu) / (math.exp(mu) + (1 / s - 1))
    else:
        shift = config.get("shift", 1.0)
        sig = shift * s / (1 + (shift - 1) * s)
    return np.append(sig, 0.0), sig * n


@pytest.mark.parametrize("name", [n for n in FIXTURES if is_flow(n)])
def test_flow_goldens_replay(name):
    """Flow-match Euler from its formulas over the package's files. A denoiser taking `guidance` (Flux) gets the
    scale as that input and no classifier-free guidance; its schedule follows the image sequence length
    (schedule.sequencePatch: latent patches of that side per token)."""
    pkg, m = load(name)
    config = scheduler_config(name)
    runner = GraphRunner(pkg, m["components"], m["denoiser"])
    decoder = torch.jit.load(os.path.join(pkg, {c["name"]: c["file"] for c in m["components"]}["vae_decoder"]))
    n_enc = len(m["text"]["encoders"])
    distilled = "guidance" in m["denoiser"]["inputs"]
    patch, f = m["schedule"].get("sequencePatch", 0), m["latent"]["downsample"]
    for entry in sampling_goldens(m):
        g, side = read_golden(pkg, entry)
        if patch:
            seq = (side["height"] // f // patch) * (side["width"] // f // patch)
            sig, ts = flux_sigmas(config, side["steps"], seq)
        else:
            sig, ts = flow_sigmas(config, side["steps"])
        assert np.abs(ts - g["timesteps"]).max() <= 1e-3, entry["subject"]
        ids = [torch.from_numpy(g[f"input_ids_{k}"]) for k in range(n_enc)]
        un = [torch.from_numpy(g[f"uncond_ids_{k}"]) for k in range(n_enc)]
        cond, uncond, pooled_c, pooled_u = package_text(pkg, m, ids, un, side["negative_prompts"])
        x = torch.from_numpy(g["init_noise"]).double()  # unit noise, no input scaling
        B = x.shape[0]
        guided = not distilled and side["guidance_scale"] > 1
        for i, t in enumerate(ts):
            rows = 2 * B if guided else B
            inputs = {"sample": (torch.cat([x, x]) if guided else x).float(), "timestep": torch.full((rows,), float(t)),
                      "encoder_hidden_states": torch.cat([uncond, cond]) if guided else cond}
            if "text_embeds" in m["denoiser"]["inputs"]:
                inputs["text_embeds"] = torch.cat([pooled_u, pooled_c]) if guided else pooled_c
            if distilled:
                inputs["guidance"] = torch.full((rows,), float(side["guidance_scale"]))
            v = runner(**inputs).double()
            if guided:
                v_u, v_c = v.chunk(2)
                v = v_u + side["guidance_scale"] * (v_c - v_u)
            x = x + (sig[i + 1] - sig[i]) * v  # Euler on dx/dsigma = v
        want = torch.from_numpy(g["latent_final"]).double()
        d = (x - want).abs().max().item()
        assert d <= 1e-4 * max(1.0, want.abs().max().item()), (entry["subject"], d)
        # the recorded pixels are the pipeline's decode; the package's decoder takes latents / scaleFactor
        with torch.no_grad():
            pixels = decoder(torch.from_numpy(g["latent_final"]) / m["latent"]["scaleFactor"])
        d = (pixels.double() - torch.from_numpy(g["pixels"]).double()).abs().max().item()
        assert d <= 1e-4, (entry["subject"], "pixels", d)


# ------------------------------------------------------------------------------------------ latent video (CogVideoX)

VIDEO_FIXTURES = {"fixture-cogvideox": ("CogVideoXPipeline", "CogVideoXDDIMScheduler", "IMAGE_CONDITIONING_NONE"),
                  "fixture-cogvideox-i2v": ("CogVideoXImageToVideoPipeline", "CogVideoXDPMScheduler",
                                            "IMAGE_CONDITIONING_CHANNEL_CONCAT")}
VIDEO_SIDECAR_KEYS = {"sampler", "scheduler", "pipeline", "steps", "guidance_scale", "use_dynamic_cfg", "num_frames",
                      "width", "height", "prompts", "negative_prompts", "truncated_tokens", "max_sequence_length",
                      "diffusers_version"}


@pytest.mark.parametrize("name", list(VIDEO_FIXTURES))
def test_latent_video_manifest_contract(name):
    pkg, m = load(name)
    pipeline, scheduler, conditioning = VIDEO_FIXTURES[name]
    train_export().validate_manifest(m)
    check_package_files(pkg, m)
    assert m["kind"] == "MODEL_KIND_LATENT_VIDEO"
    assert scheduler_config(name)["_class_name"] == scheduler
    v = m["video"]
    assert v["imageConditioning"] == conditioning and (v.get("encoder") == "vae_encoder") == (
        conditioning == "IMAGE_CONDITIONING_CHANNEL_CONCAT")
    assert (v["temporalCompression"], v["headFrames"], v["stepFrames"]) == (4, 3, 2)
    # every served frame count has an odd latent frame count >= 3, at most diffusers' 49 frames
    assert m["supportedFrameCounts"] == [9, 17, 25, 33, 41, 49]
    assert m["defaults"]["numFrames"] == 9 and m["latent"]["frames"] == 3 and m["defaults"]["fps"] == 8
    assert m["denoiser"]["inputs"] == ["sample", "timestep", "encoder_hidden_states"]
    assert m["denoiser"]["prediction"] == "PREDICTION_V"
    assert [b["group"] for b in m["denoiser"]["blocks"] if b.get("cacheable")] == ["transformer_blocks"] * 2
    specs = {c["name"]: c for c in m["components"]}
    sample = specs["transformer.embed"]["inputs"][0]
    assert sample["name"] == "sample" and sample["shape"] == [-1, -1, 8 if conditioning.endswith("CONCAT") else 4,
                                                              -1, -1]
    head, step = specs[v["decoderHead"]], specs[v["decoderStep"]]
    caches = [o["name"] for o in head["outputs"][1:]]
    assert caches and [i["name"] for i in step["inputs"][1:]] == caches == [o["name"] for o in step["outputs"][1:]]
    # one package serves every size its constraint allows: the text-to-video goldens are at two
    assert m["sizeConstraint"]["multipleOf"] == 8 and "supportedSizes" not in m
    sizes = ("32x32", "48x32") if conditioning == "IMAGE_CONDITIONING_NONE" else ("32x32",)
    subjects = {g["subject"] for g in sampling_goldens(m)}
    assert subjects == {f"sampling/{s}/{z}/f{f}" for s in ("ddim", "dpmpp2m") for f in (9, 17) for z in sizes}
    for entry in sampling_goldens(m):
        arrays, side = read_golden(pkg, entry)
        assert set(side) == VIDEO_SIDECAR_KEYS and side["pipeline"] == pipeline
        assert side["use_dynamic_cfg"] == (conditioning.endswith("CONCAT") and side["sampler"] == "dpmpp2m")
        F = 1 + (side["num_frames"] - 1) // 4
        w, h = side["width"], side["height"]
        assert arrays["init_noise"].shape == (2, F, 4, h // 4, w // 4)
        assert arrays["pixels"].shape == (2, 3, side["num_frames"], h, w)
        assert ("image" in arrays.files) == conditioning.endswith("CONCAT")
        steps = side["steps"]
        if side["sampler"] == "dpmpp2m":  # two draws a step but the first and, when its prev < 0, the last
            assert arrays["step_noise"].shape[0] in (2 * steps - 1, 2 * steps - 2)
        else:
            assert "step_noise" not in arrays.files


def cogvideox_alphas(config):
    """CogVideoX's schedule from its formulas: float64 scaled-linear betas, cumulative alphas, the SNR shift
    a / (s + (1 - s) a), then zero terminal SNR rescaled on sqrt(alphas_cumprod) (Lin et al. 2023, algorithm 1)."""
    n = config["num_train_timesteps"]
    betas = torch.linspace(config["beta_start"] ** 0.5, config["beta_end"] ** 0.5, n, dtype=torch.float64) ** 2
    a = torch.cumprod(1 - betas, 0)
    s = config["snr_shift_scale"]
    a = a / (s + (1 - s) * a)
    if config.get("rescale_betas_zero_snr"):
        r = a.sqrt()
        a = ((r - r[-1]) * (r[0] / (r[0] - r[-1]))) ** 2
    return a.tolist()


@pytest.mark.parametrize("name", list(VIDEO_FIXTURES))
def test_latent_video_ddim_goldens_replay(name):
    """Every DDIM golden from the formulas (v-prediction x0 = sqrt(a) x - sqrt(1-a) v; x' = sqrt((1-a')/(1-a)) x +
    (sqrt(a') - sqrt(a) sqrt((1-a')/(1-a))) x0 with a' at t - T/N, 1 past the end), the package's TorchScript
    text encoder, blocks and VAE chunks, classifier-free guidance over [uncond; cond] rows; for image-to-video the
    first frame's posterior sample concatenated along channels."""
    pkg, m = load(name)
    config = scheduler_config(name)
    alphas = cogvideox_alphas(config)
    files = {c["name"]: os.path.join(pkg, c["file"]) for c in m["components"]}
    text = torch.jit.load(files["text_encoder"])
    graph = GraphRunner(pkg, m["components"], m["denoiser"])
    head, step = torch.jit.load(files["vae_decoder.head"]), torch.jit.load(files["vae_decoder.step"])
    scale = m["latent"]["scaleFactor"]
    f32 = lambda c: float(np.float32(c))  # noqa: E731  (a double coefficient meeting a float32 tensor)
    replayed = 0
    for entry in sampling_goldens(m):
        arrays, side = read_golden(pkg, entry)
        if side["sampler"] != "ddim":
            continue
        g = {k: torch.from_numpy(arrays[k]) for k in arrays.files}
        with torch.no_grad():
            ehs = torch.cat([text(g["uncond_ids_0"]), text(g["input_ids_0"])])
            x = g["init_noise"].clone()
            B, F = x.shape[:2]
            image = None
            if "image" in g:
                enc = torch.jit.load(files["vae_encoder"])
                ms = [enc(g["image"][b:b + 1]) for b in range(B)]
                z = torch.cat([mu for mu, _ in ms]) + torch.cat([sd for _, sd in ms]) * g["image_noise"]
                z = z.permute(0, 2, 1, 3, 4) * scale
                image = torch.cat([z, torch.zeros(B, F - 1, *z.shape[2:])], dim=1)
            steps = side["steps"]
            ratio = config["num_train_timesteps"] // steps
            for t in [int(v) for v in g["timesteps"].tolist()]:
                inp = torch.cat([x, x])
                if image is not None:
                    inp = torch.cat([inp, torch.cat([image, image])], dim=2)
                v = graph(sample=inp, timestep=torch.full((2 * B,), float(t)), encoder_hidden_states=ehs)
                vu, vc = v.chunk(2)
                v = vu + f32(side["guidance_scale"]) * (vc - vu)
                a = alphas[t]
                ap = alphas[t - ratio] if t - ratio >= 0 else 1.0
                x0 = f32(math.sqrt(a)) * x - f32(math.sqrt(1 - a)) * v
                at = math.sqrt((1 - ap) / (1 - a))
                x = f32(at) * x + f32(math.sqrt(ap) - math.sqrt(a) * at) * x0
            d = (x - g["latent_final"]).abs().max().item()
            assert d <= 1e-4, (entry["subject"], d)
            zl = (1 / scale) * x.permute(0, 2, 1, 3, 4)
            outs = head(zl[:, :, :3].contiguous())
            pixels, caches = [outs[0]], outs[1:]
            for s in range(3, F, 2):
                outs = step(zl[:, :, s:s + 2].contiguous(), *caches)
                pixels.append(outs[0])
                caches = outs[1:]
            dp = (torch.cat(pixels, dim=2) - g["pixels"]).abs().max().item()
            assert dp <= 1e-3, (entry["subject"], dp)
            print(f"{name} {entry['subject']}: latents {d:.2e}, pixels {dp:.2e}")
        replayed += 1
    # the DDIM goldens: 9 and 17 frames, at 32x32 and (text-to-video) 48x32
    assert replayed == (4 if name == "fixture-cogvideox" else 2)
