#!/usr/bin/env python3
"""Build the random-weight conformance fixture packages models/fixture-sd15, models/fixture-sd15-fp16 (the
same pipeline with fp16 weights), models/fixture-sd2-v,
models/fixture-sdxl, models/fixture-sd15-flow, models/fixture-sd3, models/fixture-flux, models/fixture-cogvideox
and models/fixture-cogvideox-i2v.

Each fixture is a tiny, seeded configuration of the real diffusers classes (UNet2DConditionModel with
three levels, AutoencoderKL with four, so sizes are multiples of 32 and the default is 64x64; for
fixture-sd3 an SD3Transformer2DModel with patch size 2 and four joint blocks over a 16-channel
AutoencoderKL with SD3's scaling and shift factors, so sizes are multiples of 16; for fixture-flux a
FluxTransformer2DModel with guidance embeddings, two double- and two single-stream blocks over a 16-channel
AutoencoderKL with FLUX.1's factors and FLUX.1-dev's scheduler config; for fixture-cogvideox a
CogVideoXTransformer3DModel with rotary embeddings and two blocks over an AutoencoderKLCogVideoX with three
levels and temporal compression 4, so sizes are multiples of 8 and the default is 32x32 with 9 frames, under
CogVideoX-2b's CogVideoXDDIMScheduler config (snr_shift_scale 3); fixture-cogvideox-i2v is its image-to-video
form with 2C input channels under CogVideoX-5b's CogVideoXDPMScheduler config (snr_shift_scale 1), its dpmpp2m
goldens recorded with use_dynamic_cfg), with text encoders
from tests/standins/transformers (small CLIP-style causal transformers with transformers'
CLIPTextModel / CLIPTextModelWithProjection interface, and for fixture-sd3 and fixture-flux a small T5
encoder with T5EncoderModel's) and the fixture tokenizers of tests/data. The script writes each diffusers
pipeline folder into a temporary folder, then runs the exporter command line on it exactly as a user
would:

  python3 -m genloom_export.stable_diffusion --pipeline <name>-pipeline --out models/fixture-<name> ...

(run from a temporary folder whose `models` links to the repository's models/ folder, so the
recorded command names no machine paths). The weights are random: the images are noise. The
packages exist so that the Java runtime can be checked against diffusers' own sampling loop.

Needs diffusers (with torch, numpy, regex) importable; run from anywhere:

  python3 models/export/tests_diffusers/build_fixtures.py [--only sd15,sd15-fp16,sd2-v,sdxl,sd15-flow,sd3,flux,cogvideox,cogvideox-i2v] [--keep DIR]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(EXPORT))
STANDINS = os.path.join(EXPORT, "tests", "standins")
DATA = os.path.join(EXPORT, "tests", "data")
for _p in (EXPORT, STANDINS):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import torch  # noqa: E402
import transformers  # noqa: E402  (tests/standins/transformers)

SD15_SCHEDULER = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False,
                  "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None, "clip_sample": False}
# SD 2.1 (768-v) ships this DDIM config; the fixture adds zero-terminal-SNR betas and trailing spacing.
SD2V_SCHEDULER = {"_class_name": "DDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000,
                  "prediction_type": "v_prediction", "set_alpha_to_one": False, "skip_prk_steps": True,
                  "steps_offset": 1, "trained_betas": None, "rescale_betas_zero_snr": True,
                  "timestep_spacing": "trailing"}
# SDXL base ships this Euler config, with use_karras_sigmas false; the fixture turns Karras sigmas on.
SDXL_SCHEDULER = {"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "clip_sample": False, "interpolation_type": "linear",
                  "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0,
                  "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
                  "timestep_spacing": "leading", "trained_betas": None, "use_karras_sigmas": True}
# A rectified-flow fine-tune of SD 1.5: the SD 1.5 fixture's modules under SD3's flow-matching schedule
# (FlowMatchEulerDiscreteScheduler, shift 3), so the flow-match Euler sampler runs in the UNet loop.
FLOW_SCHEDULER = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0}

COMMON_ARGS = ["--golden-sizes", "64x64,96x64", "--golden-steps", "6", "--golden-guidance", "5", "--threads", "2"]
COGVIDEOX_ARGS = ["--golden-steps", "6", "--golden-guidance", "6", "--num-frames", "9", "--golden-frames", "9,17",
                  "--threads", "2"]
FIXTURES = {
    "sd15": {"out": "fixture-sd15", "shape": "SD 1.5",
             "args": ["--golden-extra", "ddim:eta=0.3"]},
    "sd2-v": {"out": "fixture-sd2-v", "shape": "SD 2.x 768-v (v-prediction, zero terminal SNR, trailing spacing)",
              "args": ["--golden-guidance-rescale", "0.7"]},
    "sdxl": {"out": "fixture-sdxl", "shape": "SDXL base (two text encoders, text_time conditioning, Karras sigmas)",
             "args": ["--buckets", "64x64,96x64,64x96,128x64,64x128"]},
    "sd15-fp16": {"out": "fixture-sd15-fp16", "pipeline": "sd15",
                  "shape": "SD 1.5 with fp16 weights (fixture-sd15's pipeline exported with --precision fp16)",
                  "args": ["--golden-extra", "ddim:eta=0.3", "--precision", "fp16"]},
    "sd15-flow": {"out": "fixture-sd15-flow",
                  "shape": "SD 1.5 under a flow-matching schedule (FlowMatchEulerDiscreteScheduler, shift 3)",
                  "args": []},
    "sd3": {"out": "fixture-sd3",
            "shape": "SD3 (two CLIP text encoders with projection, a T5 encoder, MMDiT joint blocks, flow matching "
                     "with shift 3)",
            "encoders": "stand-in CLIP and T5 text encoders", "args": []},
    "flux": {"out": "fixture-flux",
             "shape": "FLUX.1-dev (a CLIP text encoder's pooled output and a T5 encoder, guidance-distilled "
                      "double- and single-stream transformer blocks, flow matching with FluxPipeline's "
                      "resolution-dependent shift)",
             "encoders": "stand-in CLIP and T5 text encoders",
             "guidance": "3.5", "args": ["--width", "64", "--height", "64"]},
    "cogvideox": {"out": "fixture-cogvideox",
                  "shape": "CogVideoX text-to-video (a T5 encoder, a 3D transformer with rotary embeddings, a causal "
                           "video VAE, CogVideoX-2b's CogVideoXDDIMScheduler config)",
                  "encoders": "a stand-in T5 text encoder", "common": COGVIDEOX_ARGS,
                  "args": ["--golden-sizes", "32x32,48x32"]},
    "cogvideox-i2v": {"out": "fixture-cogvideox-i2v",
                      "shape": "CogVideoX image-to-video (the first frame's latent concatenated along channels, "
                               "CogVideoX-5b's CogVideoXDPMScheduler config, dynamic classifier-free guidance)",
                      "encoders": "a stand-in T5 text encoder", "common": COGVIDEOX_ARGS,
                      "args": ["--golden-dynamic-cfg", "dpmpp2m"]},
}
# SD3-medium's VAE settings (16 latent channels, no quant convs).
SD3_VAE = {"latent_channels": 16, "scaling_factor": 1.5305, "shift_factor": 0.0609, "use_quant_conv": False,
           "use_post_quant_conv": False}
# FLUX.1's VAE settings (16 latent channels, no quant convs) and FLUX.1-dev's and -schnell's scheduler configs.
FLUX_VAE = {"latent_channels": 16, "scaling_factor": 0.3611, "shift_factor": 0.1159, "use_quant_conv": False,
            "use_post_quant_conv": False}
FLUX_DEV_SCHEDULER = {"_class_name": "FlowMatchEulerDiscreteScheduler", "base_image_seq_len": 256, "base_shift": 0.5,
                      "max_image_seq_len": 4096, "max_shift": 1.15, "num_train_timesteps": 1000, "shift": 3.0,
                      "use_dynamic_shifting": True}
FLUX_SCHNELL_SCHEDULER = dict(FLUX_DEV_SCHEDULER, shift=1.0, use_dynamic_shifting=False)
# CogVideoX-2b's scheduler config (v-prediction, zero terminal SNR on the shifted schedule, trailing spacing) and
# CogVideoX-5b(-I2V)'s, which differs in the class and snr_shift_scale 1.
COGVIDEOX_2B_SCHEDULER = {"_class_name": "CogVideoXDDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                          "beta_start": 0.00085, "clip_sample": False, "clip_sample_range": 1.0,
                          "num_train_timesteps": 1000, "prediction_type": "v_prediction",
                          "rescale_betas_zero_snr": True, "sample_max_value": 1.0, "set_alpha_to_one": True,
                          "snr_shift_scale": 3.0, "steps_offset": 0, "timestep_spacing": "trailing",
                          "trained_betas": None}
COGVIDEOX_5B_SCHEDULER = dict(COGVIDEOX_2B_SCHEDULER, _class_name="CogVideoXDPMScheduler", snr_shift_scale=1.0)


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def t5_tokenizer(dst):
    """Copy tests/data/t5-fixture; returns its vocabulary size."""
    shutil.copytree(os.path.join(DATA, "t5-fixture"), dst)
    with open(os.path.join(dst, "tokenizer.json")) as f:
        return len(json.load(f)["model"]["vocab"])


def copy_tokenizer(name, dst):
    """Copy tests/data/<name>; returns (vocab size, bos id, eos id, pad id)."""
    shutil.copytree(os.path.join(DATA, name), dst)
    sys.path.insert(0, EXPORT)
    from genloom_export.clip_tokenizer import read_tokenizer_settings
    s = read_tokenizer_settings(dst)
    with open(os.path.join(dst, "vocab.json")) as f:
        n = len(json.load(f))
    return n, s["bos_id"], s["eos_id"], s["pad_id"]


def text_encoder(folder, cls, tok, hidden, layers, heads, act, seed, projection=None):
    vocab, bos, eos, pad = tok
    torch.manual_seed(seed)
    config = transformers.CLIPTextConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden,
                                         projection_dim=projection or hidden, num_hidden_layers=layers,
                                         num_attention_heads=heads, max_position_embeddings=77, hidden_act=act,
                                         bos_token_id=bos, eos_token_id=eos, pad_token_id=pad)
    cls(config).save_pretrained(folder)


def vae(diffusers, folder, scaling_factor, seed, **kw):
    torch.manual_seed(seed)
    kw = dict({"latent_channels": 4}, scaling_factor=scaling_factor, **kw)
    m = diffusers.AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                                up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 16, 16, 16),
                                layers_per_block=1, norm_num_groups=8, sample_size=64, **kw)
    m.save_pretrained(folder, safe_serialization=False)


def t5_encoder(folder, vocab, seed):
    torch.manual_seed(seed)
    config = transformers.T5Config(vocab_size=vocab, d_model=64, d_kv=8, num_heads=2, d_ff=96, num_layers=2,
                                   relative_attention_num_buckets=32, relative_attention_max_distance=128,
                                   feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, pad_token_id=0,
                                   eos_token_id=1)
    transformers.T5EncoderModel(config).save_pretrained(folder)


def sd3_transformer(diffusers, folder, seed):
    torch.manual_seed(seed)
    # caption_projection_dim = heads x head dim (joint attention); pooled_projection_dim = 16 + 32 (the CLIPs)
    m = diffusers.SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=16, out_channels=16, num_layers=4,
                                        attention_head_dim=8, num_attention_heads=2, joint_attention_dim=64,
                                        caption_projection_dim=16, pooled_projection_dim=48, pos_embed_max_size=16)
    m.save_pretrained(folder, safe_serialization=False)


def flux_transformer(diffusers, folder, seed, guidance_embeds):
    torch.manual_seed(seed)
    # in_channels = 4 x 16 latent channels (FluxPipeline's 2x2 packing); joint_attention_dim = T5's d_model 64;
    # pooled_projection_dim = CLIP's hidden size 32; rotary axes 4 + 6 + 6 = attention_head_dim (FLUX.1: 16+56+56)
    m = diffusers.FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=2, num_single_layers=2,
                                         attention_head_dim=16, num_attention_heads=2, joint_attention_dim=64,
                                         pooled_projection_dim=32, guidance_embeds=guidance_embeds,
                                         axes_dims_rope=(4, 6, 6))
    m.save_pretrained(folder, safe_serialization=False)


def cogvideox_transformer(diffusers, folder, seed, in_channels):
    torch.manual_seed(seed)
    # text_embed_dim = T5's d_model 64; sample 8x8 latents (32x32 pixels) of 9 frames; head dim 16 (a multiple of 8)
    m = diffusers.CogVideoXTransformer3DModel(num_attention_heads=2, attention_head_dim=16, in_channels=in_channels,
                                              out_channels=4, time_embed_dim=16, text_embed_dim=64, num_layers=2,
                                              sample_width=8, sample_height=8, sample_frames=9, patch_size=2,
                                              temporal_compression_ratio=4, max_text_seq_length=226,
                                              use_rotary_positional_embeddings=True)
    m.save_pretrained(folder, safe_serialization=False)


def cogvideox_vae(diffusers, folder, seed):
    torch.manual_seed(seed)
    m = diffusers.AutoencoderKLCogVideoX(in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 3,
                                         up_block_types=("CogVideoXUpBlock3D",) * 3, block_out_channels=(8, 16, 16),
                                         latent_channels=4, layers_per_block=1, norm_num_groups=4,
                                         temporal_compression_ratio=4, sample_height=32, sample_width=32)
    m.save_pretrained(folder, safe_serialization=False)


def unet(diffusers, folder, seed, **kw):
    torch.manual_seed(seed)
    m = diffusers.UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                       block_out_channels=(16, 32, 32), norm_num_groups=8, **kw)
    m.save_pretrained(folder, safe_serialization=False)


def model_index(kind, scheduler):
    if kind.startswith("cogvideox"):
        return {"_class_name": "CogVideoXImageToVideoPipeline" if kind == "cogvideox-i2v" else "CogVideoXPipeline",
                "_diffusers_version": "0.30.3", "scheduler": ["diffusers", scheduler],
                "text_encoder": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "T5Tokenizer"],
                "transformer": ["diffusers", "CogVideoXTransformer3DModel"],
                "vae": ["diffusers", "AutoencoderKLCogVideoX"]}
    if kind.startswith("flux"):
        return {"_class_name": "FluxPipeline", "_diffusers_version": "0.30.3", "scheduler": ["diffusers", scheduler],
                "text_encoder": ["transformers", "CLIPTextModel"], "text_encoder_2": ["transformers", "T5EncoderModel"],
                "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "T5TokenizerFast"],
                "transformer": ["diffusers", "FluxTransformer2DModel"], "vae": ["diffusers", "AutoencoderKL"]}
    if kind == "sd3":
        return {"_class_name": "StableDiffusion3Pipeline", "_diffusers_version": "0.30.3",
                "scheduler": ["diffusers", scheduler], "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
                "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
                "text_encoder_3": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
                "tokenizer_2": ["transformers", "CLIPTokenizer"], "tokenizer_3": ["transformers", "T5TokenizerFast"],
                "transformer": ["diffusers", "SD3Transformer2DModel"], "vae": ["diffusers", "AutoencoderKL"]}
    idx = {"_class_name": "StableDiffusionXLPipeline" if kind == "sdxl" else "StableDiffusionPipeline",
           "_diffusers_version": "0.30.3", "scheduler": ["diffusers", scheduler],
           "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
           "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
    if kind == "sdxl":
        idx.update(text_encoder_2=["transformers", "CLIPTextModelWithProjection"],
                   tokenizer_2=["transformers", "CLIPTokenizer"], force_zeros_for_empty_prompt=True)
    else:
        idx.update(safety_checker=[None, None], feature_extractor=[None, None], requires_safety_checker=False)
    return idx


def write_pipeline(diffusers, kind, d):
    """The tiny pipeline folder of one fixture (seeded); "flux-schnell" is fixture-flux's pipeline shaped like
    FLUX.1-schnell (no guidance embeddings, FLUX.1-schnell's scheduler config). A fixture with a "pipeline"
    entry (sd15-fp16) is another fixture's pipeline exported with other options."""
    kind = FIXTURES.get(kind, {}).get("pipeline", kind)
    if kind in ("sd15", "sd15-flow"):
        tok = copy_tokenizer("clip-sd15", os.path.join(d, "tokenizer"))
        text_encoder(os.path.join(d, "text_encoder"), transformers.CLIPTextModel, tok, 32, 2, 2, "quick_gelu", 11)
        unet(diffusers, os.path.join(d, "unet"), 12, cross_attention_dim=32, attention_head_dim=4,
             down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
             up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"))
        vae(diffusers, os.path.join(d, "vae"), 0.18215, 13)
        sched = SD15_SCHEDULER if kind == "sd15" else FLOW_SCHEDULER
    elif kind == "sd2-v":
        tok = copy_tokenizer("clip-sd2", os.path.join(d, "tokenizer"))
        text_encoder(os.path.join(d, "text_encoder"), transformers.CLIPTextModel, tok, 32, 2, 2, "gelu", 21)
        unet(diffusers, os.path.join(d, "unet"), 22, cross_attention_dim=32, attention_head_dim=(2, 4, 4),
             use_linear_projection=True, upcast_attention=True,
             down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
             up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"))
        vae(diffusers, os.path.join(d, "vae"), 0.18215, 23)
        sched = SD2V_SCHEDULER
    elif kind == "sd3":
        tok = copy_tokenizer("clip-sd15", os.path.join(d, "tokenizer"))
        tok2 = copy_tokenizer("clip-sd2", os.path.join(d, "tokenizer_2"))  # pads with "!", as SD3's CLIP-G
        text_encoder(os.path.join(d, "text_encoder"), transformers.CLIPTextModelWithProjection, tok, 16, 2, 2,
                     "quick_gelu", 41, projection=16)
        text_encoder(os.path.join(d, "text_encoder_2"), transformers.CLIPTextModelWithProjection, tok2, 32, 3, 2,
                     "gelu", 42, projection=32)
        t5_encoder(os.path.join(d, "text_encoder_3"), t5_tokenizer(os.path.join(d, "tokenizer_3")), 43)
        sd3_transformer(diffusers, os.path.join(d, "transformer"), 44)
        vae(diffusers, os.path.join(d, "vae"), SD3_VAE["scaling_factor"], 45,
            **{k: v for k, v in SD3_VAE.items() if k != "scaling_factor"})
        sched = FLOW_SCHEDULER
    elif kind in ("flux", "flux-schnell"):
        tok = copy_tokenizer("clip-sd15", os.path.join(d, "tokenizer"))  # FLUX.1's CLIP-L tokenizer
        text_encoder(os.path.join(d, "text_encoder"), transformers.CLIPTextModel, tok, 32, 2, 2, "quick_gelu", 51)
        t5_encoder(os.path.join(d, "text_encoder_2"), t5_tokenizer(os.path.join(d, "tokenizer_2")), 52)
        flux_transformer(diffusers, os.path.join(d, "transformer"), 53, guidance_embeds=kind == "flux")
        vae(diffusers, os.path.join(d, "vae"), FLUX_VAE["scaling_factor"], 54,
            **{k: v for k, v in FLUX_VAE.items() if k != "scaling_factor"})
        sched = FLUX_DEV_SCHEDULER if kind == "flux" else FLUX_SCHNELL_SCHEDULER
    elif kind in ("cogvideox", "cogvideox-i2v"):
        i2v = kind == "cogvideox-i2v"
        t5_encoder(os.path.join(d, "text_encoder"), t5_tokenizer(os.path.join(d, "tokenizer")), 61)
        cogvideox_transformer(diffusers, os.path.join(d, "transformer"), 63 if i2v else 62, 8 if i2v else 4)
        cogvideox_vae(diffusers, os.path.join(d, "vae"), 64)
        sched = COGVIDEOX_5B_SCHEDULER if i2v else COGVIDEOX_2B_SCHEDULER
    else:
        tok = copy_tokenizer("clip-sd15", os.path.join(d, "tokenizer"))
        tok2 = copy_tokenizer("clip-sd2", os.path.join(d, "tokenizer_2"))
        text_encoder(os.path.join(d, "text_encoder"), transformers.CLIPTextModel, tok, 16, 2, 2, "quick_gelu", 31)
        text_encoder(os.path.join(d, "text_encoder_2"), transformers.CLIPTextModelWithProjection, tok2, 32, 3, 2,
                     "gelu", 32, projection=32)
        time_dim = 8
        unet(diffusers, os.path.join(d, "unet"), 33, cross_attention_dim=48, attention_head_dim=(2, 4, 4),
             use_linear_projection=True, transformer_layers_per_block=(1, 1, 2), addition_embed_type="text_time",
             addition_time_embed_dim=time_dim, projection_class_embeddings_input_dim=6 * time_dim + 32,
             down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
             up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"))
        vae(diffusers, os.path.join(d, "vae"), 0.13025, 34)
        sched = SDXL_SCHEDULER
    write_json(os.path.join(d, "scheduler", "scheduler_config.json"), sched)
    write_json(os.path.join(d, "model_index.json"), model_index(kind, sched["_class_name"]))


def export_command(kind, pipeline):
    f = FIXTURES[kind]
    desc = (f"Random-weight conformance fixture: a tiny, seeded configuration of the real diffusers classes shaped "
            f"like {f['shape']}, with {f.get('encoders', 'stand-in CLIP text encoders')}; its images are noise. "
            "It exists to check the runtime's tokenizers, text conditioning, samplers and block graph against "
            "diffusers' own sampling loop.")
    common = list(f.get("common", COMMON_ARGS))
    common[common.index("--golden-guidance") + 1] = f.get("guidance", common[common.index("--golden-guidance") + 1])
    return ([sys.executable, "-m", "genloom_export.stable_diffusion", "--pipeline", pipeline, "--out",
             os.path.join("models", f["out"]), "--name", f["out"], "--description", desc] + common + f["args"])


def build(kinds, keep=None):
    import diffusers
    work = keep or tempfile.mkdtemp(prefix="genloom-fixtures-")
    os.makedirs(work, exist_ok=True)
    link = os.path.join(work, "models")
    if not os.path.exists(link):
        os.symlink(os.path.join(REPO, "models"), link)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([EXPORT, STANDINS] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                                              if p])
    try:
        for kind in kinds:
            pipeline = f"{kind}-pipeline"
            if os.path.exists(os.path.join(work, pipeline)):
                shutil.rmtree(os.path.join(work, pipeline))
            write_pipeline(diffusers, kind, os.path.join(work, pipeline))
            out = os.path.join(REPO, "models", FIXTURES[kind]["out"])
            if os.path.exists(out):
                shutil.rmtree(out)
            cmd = export_command(kind, pipeline)
            print("+", " ".join(cmd[1:]), flush=True)
            subprocess.run(cmd, cwd=work, env=env, check=True)
    finally:
        if keep is None:
            shutil.rmtree(work)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(FIXTURES), help="comma-separated fixtures (default: all)")
    ap.add_argument("--keep", help="write the pipeline folders here and keep them")
    a = ap.parse_args()
    kinds = [k for k in a.only.split(",") if k]
    for k in kinds:
        if k not in FIXTURES:
            ap.error(f"unknown fixture {k!r} (known: {', '.join(FIXTURES)})")
    build(kinds, a.keep)


if __name__ == "__main__":
    main()
