"""The DiT exporter on a stand-in SD3-style transformer (no diffusers): block names, inputs and groups, package
files, the VAE shift_factor round trip, the block graph against the stand-in's full forward at sizes and text
lengths other than the traced ones, and the refusal of an SD3 pipeline folder."""
import json
import os
import subprocess
import sys
import types

import torch
import torch.nn as nn

import dit_modules as D
import sd_modules
from genloom_export import dit
from genloom_export.common import GraphRunner, check_package_files, max_abs, read_json


def test_dit_export_matches_full_forward(tmp_path):
    torch.manual_seed(0)
    pipe_dir, out = str(tmp_path / "dit-pipeline"), str(tmp_path / "pkg")
    vocab = D.make_pipeline(pipe_dir, D.SD3_SCHEDULER)
    L, Dt = 10, 24
    os.makedirs(out)
    tok_type, lower = dit.write_tokenizer(pipe_dir, out, "tokenizer")
    assert tok_type == "BPE" and lower
    tr = D.FakeSD3Transformer2DModel(joint_attention_dim=Dt)
    for blk in tr.transformer_blocks:  # non-trivial gates so every path contributes
        nn.init.normal_(blk.norm1.weight, std=0.2)
        nn.init.normal_(blk.norm1_context.weight, std=0.2)
    vae = sd_modules.FakeAutoencoderKL(dict(sd_modules.make_vae_config(1.5305), shift_factor=0.0609))
    p = types.SimpleNamespace(
        transformer=tr, vae=vae, text_encoder=D.FakeTextModel(len(vocab), L, Dt), encode=D.word_encoder(vocab, L),
        tokenizer=({"file": "tokenizer.json", "maxLength": L, "padId": 1, "bosId": 0, "eosId": 1, "unkId": 1,
                    "lowercase": lower}, tok_type),
        text_length=None, scheduler_config=read_json(os.path.join(pipe_dir, "scheduler", "scheduler_config.json")),
        source="stand-in SD3-style pipeline", command="tests/test_dit_export.py")
    manifest, err = dit.export_dit(p, out, "standin-dit", atol=1e-5)
    assert err <= 1e-5
    blocks = manifest["denoiser"]["blocks"]
    assert [b["name"] for b in blocks] == ["transformer.embed", "transformer_blocks.0", "transformer_blocks.1",
                                           "transformer_blocks.2", "transformer.final_layer"]
    assert all(b["group"] == "transformer_blocks" and b["cacheable"] for b in blocks[1:4])
    assert [b["inputs"] for b in blocks[1:4]] == [[x, "temb", "encoder_hidden_states"]
                                                  for x in ("joint_in", "joint_0", "joint_1")]
    assert blocks[4]["inputs"] == ["joint_2", "temb", "encoder_hidden_states", "sample"]
    assert manifest["denoiser"]["timestepScale"] == 1000.0 and manifest["latent"]["frames"] == 1
    assert manifest["training"]["tokenizer"] == "BPE tokenizer.json"
    check_package_files(out, manifest)
    # The shift_factor round trip: decoder(encoder(x)) matches the VAE's own decode(encode(x)).
    enc, dec = (torch.jit.load(os.path.join(out, f)) for f in ("vae_encoder.pt", "vae_decoder.pt"))
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        z = enc(x) * 1.5305  # what the runtime does: scaled latent
        own = vae.decode(vae.encode(x, return_dict=False)[0].mean, return_dict=False)[0]
        assert max_abs(dec(z / 1.5305), own) <= 1e-5
    runner = GraphRunner(out, manifest["components"], manifest["denoiser"])
    # traced at 16x16 latents, text length 10: the blocks read sizes and the text length from their inputs
    for (h, w), n in (((8, 8), L), ((12, 8), L), ((4, 16), L), ((8, 8), 7), ((12, 12), 17)):
        xs, ts = torch.randn(4, 4, 1, h, w), torch.tensor([1000.0, 700.0, 300.0, 5.0])
        es, ps = torch.randn(4, n, Dt), torch.randn(4, 20)
        with torch.no_grad():
            d = max_abs(tr(xs[:, :, 0], es, ps, ts, return_dict=False)[0],
                        runner(sample=xs, timestep=ts, encoder_hidden_states=es, pooled_projections=ps)[:, :, 0])
        assert d <= 1e-5, ((h, w), n, d)
    # frames fold into the batch: two frames give each frame's one-frame result
    xs, ts, es, ps = torch.randn(2, 4, 2, 8, 8), torch.tensor([900.0, 200.0]), torch.randn(2, L, Dt), torch.randn(2, 20)
    with torch.no_grad():
        both = runner(sample=xs, timestep=ts, encoder_hidden_states=es, pooled_projections=ps)
        for f in range(2):
            one = tr(xs[:, :, f], es, ps, ts, return_dict=False)[0]
            assert max_abs(both[:, :, f], one) <= 1e-5, f


def test_dit_refuses_an_sd3_pipeline_folder(tmp_path):
    pipe = tmp_path / "sd3-pipeline"
    pipe.mkdir()
    (pipe / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusion3Pipeline"}))
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([sys.executable, "-m", "genloom_export.dit", "--pipeline", str(pipe), "--out",
                        str(tmp_path / "pkg")], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "genloom_export.stable_diffusion" in r.stderr, r.stderr
    assert not (tmp_path / "pkg").exists()
