"""Everything the Stable Diffusion exporter refuses, each by name, before it writes a package."""
import json
import os

import pytest

import standin_pipelines as sp
from genloom_export import sampling
from genloom_export import stable_diffusion as S
from genloom_export.common import Refused


def edit_json(path, **changes):
    with open(path) as f:
        d = json.load(f)
    d.update(changes)
    with open(path, "w") as f:
        json.dump(d, f)


CONFIG_CASES = [
    # (kind, build overrides, message the refusal must contain)
    ("sd15", {"index": {"_class_name": "StableDiffusionInpaintPipeline"}}, "StableDiffusionInpaintPipeline"),
    ("sd15", {"index": {"_class_name": "StableDiffusionUpscalePipeline"}}, "StableDiffusionUpscalePipeline"),
    ("sdxl", {"index": {"requires_aesthetics_score": True}}, "requires_aesthetics_score"),
    ("sd15", {"unet": {"class_embed_type": "timestep"}}, "class_embed_type"),
    ("sd15", {"unet": {"num_class_embeds": 10}}, "num_class_embeds"),
    ("sd15", {"unet": {"encoder_hid_dim_type": "text_proj"}}, "encoder_hid_dim_type"),
    ("sd15", {"unet": {"time_cond_proj_dim": 256}}, "time_cond_proj_dim"),
    ("sd15", {"unet": {"addition_embed_type": "text"}}, "addition_embed_type='text'"),
    ("sd15", {"unet": {"addition_embed_type": "text_time"}}, "addition_embed_type='text_time'"),
    ("sdxl", {"unet": {"addition_embed_type": None}}, "addition_embed_type=None"),
    ("sd15", {"unet": {"resnet_time_scale_shift": "scale_shift"}}, "resnet_time_scale_shift"),
    ("sd15", {"unet": {"attention_type": "gated"}}, "attention_type"),
    ("sd15", {"unet": {"in_channels": 9}}, "in_channels=9"),
    ("sd15", {"unet": {"in_channels": 8}}, "latent_channels"),
    ("sdxl", {"vae": {"latents_mean": [0.0] * 4, "latents_std": [1.0] * 4}}, "latents_mean"),
    ("sd15", {"scheduler": {"thresholding": True}}, "thresholding"),
    ("sd15", {"scheduler": {"prediction_type": "flow_prediction"}}, "prediction_type='flow_prediction'"),
    ("sd15", {"scheduler": {"_class_name": "FlowMatchEulerDiscreteScheduler", "use_dynamic_shifting": True}},
     "use_dynamic_shifting=true"),
    # found after the text encoders are written: the half-written package folder is removed again
    ("sd15", {"unet": {"cross_attention_dim": 16}}, "cross_attention_dim is 16"),
]


@pytest.mark.parametrize("kind,overrides,message", CONFIG_CASES)
def test_config_refusals(tmp_path, kind, overrides, message):
    pipe = sp.build(str(tmp_path), kind, **overrides)
    out = tmp_path / "pkg"
    with pytest.raises(Refused) as e:
        S.export(pipe, str(out), loader=sp.StandinLoader())
    assert message in str(e.value)
    assert not out.exists(), "nothing is written for a refused pipeline"


def test_refuses_other_text_encoder_architectures(tmp_path):
    pipe = sp.build(str(tmp_path), "sd15")
    edit_json(os.path.join(pipe, "text_encoder", "config.json"), architectures=["T5EncoderModel"])
    with pytest.raises(Refused, match="T5EncoderModel"):
        S.export(pipe, str(tmp_path / "pkg"), loader=sp.StandinLoader())


def test_refuses_a_pooled_encoder_without_projection(tmp_path):
    pipe = sp.build(str(tmp_path), "sdxl")
    edit_json(os.path.join(pipe, "text_encoder_2", "config.json"), architectures=["CLIPTextModel"])
    with pytest.raises(Refused, match="CLIPTextModelWithProjection"):
        S.export(pipe, str(tmp_path / "pkg"), loader=sp.StandinLoader())


def test_refuses_a_folder_that_is_no_pipeline(tmp_path):
    with pytest.raises(Refused, match="model_index.json"):
        S.export(str(tmp_path), str(tmp_path / "pkg"), loader=sp.StandinLoader())


def test_refuses_a_missing_scheduler_config(tmp_path):
    pipe = sp.build(str(tmp_path), "sd15")
    os.remove(os.path.join(pipe, "scheduler", "scheduler_config.json"))
    with pytest.raises(Refused, match="scheduler_config.json"):
        S.export(pipe, str(tmp_path / "pkg"), loader=sp.StandinLoader())


def test_refuses_a_tokenizer_it_cannot_read(tmp_path):
    pipe = sp.build(str(tmp_path), "sd15")
    edit_json(os.path.join(pipe, "tokenizer", "tokenizer_config.json"), tokenizer_class="T5Tokenizer")
    with pytest.raises(Refused, match="T5Tokenizer"):
        S.export(pipe, str(tmp_path / "pkg"), loader=sp.StandinLoader())


@pytest.mark.parametrize("kwargs,message", [
    ({"width": 36}, "default size 36x32 is not a multiple of 8"),
    ({"height": 20}, "default size 32x20 is not a multiple of 8"),
    ({"max_width": 60}, "maximum size 60x64 is not a multiple of 8"),
    ({"max_width": 24}, "below the default size"),
    ({"buckets": [(32, 32), (40, 28)]}, "bucket 40x28 is not a multiple of 8"),
    ({"buckets": [(72, 32)]}, "bucket 72x32 exceeds the maximum size 64x64"),
])
def test_size_refusals(tmp_path, kwargs, message):
    pipe = sp.build(str(tmp_path), "sd15")
    with pytest.raises(Refused) as e:
        S.export(pipe, str(tmp_path / "pkg"), loader=sp.StandinLoader(), **kwargs)
    assert message in str(e.value)


@pytest.mark.parametrize("golden,message", [
    (sampling.GoldenOptions(sizes=[(32, 32), (44, 32)]), "golden size 44x32 is not a multiple of 8"),
    (sampling.GoldenOptions(samplers=["ddim", "heun"]), "golden sampler 'heun'"),
    (sampling.GoldenOptions(seeds=[1]), "as many"),
    (sampling.GoldenOptions(guidance_rescale=1.5), "guidance_rescale 1.5"),
])
def test_golden_option_refusals(tmp_path, golden, message):
    pipe = sp.build(str(tmp_path), "sd15")
    with pytest.raises(Refused) as e:
        S.export(pipe, str(tmp_path / "pkg"), loader=sp.StandinLoader(), golden=golden)
    assert message in str(e.value)


def test_a_flow_matching_schedule_has_only_the_euler_golden(tmp_path):
    pipe = sp.build(str(tmp_path), "sd15", scheduler={"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0})
    with pytest.raises(Refused) as e:
        S.export(pipe, str(tmp_path / "pkg"), loader=sp.StandinLoader(),
                 golden=sampling.GoldenOptions(samplers=["euler", "dpmpp2m"]))
    assert "'dpmpp2m' cannot sample the pipeline's flow-matching schedule" in str(e.value)
    assert not (tmp_path / "pkg").exists()


def test_golden_extra_parsing():
    assert sampling.parse_extra("ddim:eta=0.3") == ("ddim", {"eta": 0.3})
    assert sampling.parse_extra("euler:guidance_rescale=0.7,steps=4") == ("euler", {"guidance_rescale": 0.7,
                                                                                    "steps": 4})
    assert sampling.tag_of({"eta": 0.3}) == "eta0.3"
    assert sampling.golden_names("ddim", (64, 64), "eta0.3") == ("sampling_ddim_64x64_eta0.3",
                                                                "sampling/ddim/64x64/eta0.3")
    assert sampling.golden_names("euler_a", (96, 64), "") == ("sampling_euler_a_96x64", "sampling/euler_a/96x64")
    with pytest.raises(Exception, match="SAMPLER:key=value"):
        sampling.parse_extra("ddim:temperature=2")
