"""Stand-in diffusers pipeline folders for the tests that run without diffusers.

`build(root, kind)` writes a folder with the files a real pipeline has (model_index.json,
unet/config.json, vae/config.json, text encoders saved with the stand-in transformers classes,
tokenizer folders, scheduler/scheduler_config.json); `StandinLoader` builds the stand-in UNet and
VAE (tests/standins/sd_modules.py) from those configs, where a real export loads diffusers' classes.
Kinds: "sd15" (one quick_gelu CLIPTextModel, PNDM scheduler as SD 1.5 ships it), "sd2v" (gelu
encoder, pad "!", DDIM with v_prediction) and "sdxl" (CLIPTextModel + CLIPTextModelWithProjection,
text_time added conditioning, Euler).
"""
import json
import os
import shutil

import torch

import sd_modules
import transformers

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(TESTS, "data")

SD15_SCHEDULER = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False,
                  "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None, "clip_sample": False}
SD2V_SCHEDULER = {"_class_name": "DDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000,
                  "prediction_type": "v_prediction", "set_alpha_to_one": False, "steps_offset": 1,
                  "trained_betas": None, "rescale_betas_zero_snr": True, "timestep_spacing": "trailing"}
SDXL_SCHEDULER = {"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "beta_start": 0.00085, "interpolation_type": "linear", "num_train_timesteps": 1000,
                  "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": False,
                  "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None,
                  "use_karras_sigmas": True}


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)


def copy_tokenizer(name, dst):
    """Copy the fixture tokenizer folder tests/data/<name> (vocab.json, merges.txt, configs)."""
    shutil.copytree(os.path.join(DATA, name), dst)
    with open(os.path.join(dst, "vocab.json")) as f:
        vocab = json.load(f)
    with open(os.path.join(dst, "special_tokens_map.json")) as f:
        special = json.load(f)

    def tid(key):
        v = special[key]
        return vocab[v["content"] if isinstance(v, dict) else v]
    return len(vocab), tid("bos_token"), tid("eos_token"), tid("pad_token")


def text_encoder(folder, cls, tok, hidden, layers, act, projection=None):
    vocab_size, bos, eos, pad = tok
    config = transformers.CLIPTextConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
                                         projection_dim=projection or hidden, num_hidden_layers=layers,
                                         num_attention_heads=2, max_position_embeddings=77, hidden_act=act,
                                         bos_token_id=bos, eos_token_id=eos, pad_token_id=pad)
    cls(config).save_pretrained(folder)


def build(root, kind="sd15", seed=0, index=None, unet=None, vae=None, scheduler=None):
    """Write a stand-in pipeline folder root/<kind> and return its path. index/unet/vae/scheduler: dicts
    merged into model_index.json, unet/config.json, vae/config.json, the scheduler config."""
    torch.manual_seed(seed)
    d = os.path.join(root, kind)
    sdxl = kind == "sdxl"
    idx = {"_class_name": "StableDiffusionXLPipeline" if sdxl else "StableDiffusionPipeline",
           "_diffusers_version": "0.30.3", "unet": ["diffusers", "UNet2DConditionModel"],
           "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", "PNDMScheduler"],
           "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"]}
    if kind == "sd15":
        tok = copy_tokenizer("clip-sd15", os.path.join(d, "tokenizer"))
        text_encoder(os.path.join(d, "text_encoder"), transformers.CLIPTextModel, tok, 24, 2, "quick_gelu")
        unet_cfg, sched = sd_modules.make_unet_config(24), SD15_SCHEDULER
    elif kind == "sd2v":
        tok = copy_tokenizer("clip-sd2", os.path.join(d, "tokenizer"))
        text_encoder(os.path.join(d, "text_encoder"), transformers.CLIPTextModel, tok, 24, 2, "gelu")
        unet_cfg, sched = sd_modules.make_unet_config(24), SD2V_SCHEDULER
    elif sdxl:
        tok = copy_tokenizer("clip-sd15", os.path.join(d, "tokenizer"))
        tok2 = copy_tokenizer("clip-sd2", os.path.join(d, "tokenizer_2"))
        text_encoder(os.path.join(d, "text_encoder"), transformers.CLIPTextModel, tok, 16, 2, "quick_gelu")
        text_encoder(os.path.join(d, "text_encoder_2"), transformers.CLIPTextModelWithProjection, tok2, 16, 3,
                     "gelu", projection=20)
        unet_cfg, sched = sd_modules.make_unet_config(32, text_time=(8, 20)), SDXL_SCHEDULER
        idx.update(text_encoder_2=["transformers", "CLIPTextModelWithProjection"],
                   tokenizer_2=["transformers", "CLIPTokenizer"], force_zeros_for_empty_prompt=True)
    else:
        raise ValueError(kind)
    idx.update(index or {})
    unet_cfg.update(unet or {})
    write_json(os.path.join(d, "model_index.json"), idx)
    write_json(os.path.join(d, "unet", "config.json"), unet_cfg)
    write_json(os.path.join(d, "vae", "config.json"), dict(sd_modules.make_vae_config(), **(vae or {})))
    write_json(os.path.join(d, "scheduler", "scheduler_config.json"), dict(sched, **(scheduler or {})))
    return d


class StandinLoader:
    """The exporter's loader interface (unet(folder), vae(folder)) over the stand-in modules, seeded."""

    def __init__(self, seed=0):
        self.seed = seed
        self.loaded = {}

    def _read(self, folder, sub):
        with open(os.path.join(folder, sub, "config.json")) as f:
            return json.load(f)

    def unet(self, folder):
        torch.manual_seed(self.seed)
        self.loaded["unet"] = sd_modules.FakeUNet2DConditionModel(self._read(folder, "unet")).eval()
        return self.loaded["unet"]

    def vae(self, folder):
        torch.manual_seed(self.seed + 1)
        self.loaded["vae"] = sd_modules.FakeAutoencoderKL(self._read(folder, "vae")).eval()
        return self.loaded["vae"]
