"""Evaluate and export tiny-ldm (models/tiny-ldm/) from checkpoints/tiny_ldm.pt + autoencoder.pt.

  cd models/train && flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.export_ldm

Evaluation (eager modules, identical to the exported ones): guidance sweep (DDIM 50), 2000 samples
on training-distribution prompts (per-attribute accuracy, all-correct, shapes-features Frechet
distance vs 2000 real images), held-out combinations, DPM-Solver++(2M) 20 steps.  Results are cached
in checkpoints/tiny_ldm_eval.json (delete it to re-evaluate).
Export: tokenizer.json, text_encoder.pt, vae_encoder.pt, vae_decoder.pt, unet/<block>.pt, goldens for
every component (batch 2) and golden/sampling_ddim.npz, golden/sampling_dpmpp2m.npz computed with
the exported TorchScript blocks; manifest.json (validated against model.proto).
"""
import argparse
import json
import os
import time

import torch

from . import data, export, samplers
from .autoencoder import load_autoencoder
from .evaluate import attribute_scores, extract_features, frechet_distance, load_features
from .ldm import UNET_GRAPH, TextEncoder, UNet
from .tokenizer import get_tokenizer

torch.set_num_threads(2)
TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CK_DIR = os.path.join(TRAIN_DIR, "checkpoints")
PKG = os.path.join(os.path.dirname(TRAIN_DIR), "tiny-ldm")
F32, I64 = "DTYPE_FLOAT32", "DTYPE_INT64"


def load_all():
    tok = get_tokenizer()
    ck = torch.load(os.path.join(CK_DIR, "tiny_ldm.pt"))
    te = TextEncoder(ck["text_config"]["vocab_size"], ck["text_config"]["max_length"])
    te.load_state_dict(ck["text_encoder"])
    unet = UNet(**ck["unet_config"])
    unet.load_state_dict(ck["unet"])
    ae, scale = load_autoencoder()
    assert abs(scale - ck["scale_factor"]) < 1e-9, "autoencoder changed since tiny-ldm training"
    return tok, te.eval(), unet.eval(), ae, scale, ck


@torch.no_grad()
def generate(tok, te, unet, ae, scale, captions, seed, sampler="ddim", steps=50, guidance=4.0, batch=250):
    """-> pixels in [0,1]."""
    g = torch.Generator().manual_seed(seed)
    out = []
    empty = te(tok.encode_batch([""]))
    for i in range(0, len(captions), batch):
        caps = captions[i:i + batch]
        cond = te(tok.encode_batch(caps))
        fn = samplers.cfg_eps_fn(unet, cond, empty.expand(len(caps), -1, -1), guidance)
        x = torch.randn(len(caps), 4, 8, 8, generator=g)
        if sampler == "ddim":
            z = samplers.ddim_sample(fn, x, steps, eta=0.0)
        else:
            z = samplers.dpmpp2m_sample(fn, x, steps)
        out.append(data.to_unit(ae.decode(z / scale)))
    return torch.cat(out)


def prompts(n, seed, split):
    b = data.make_batch(n, torch.Generator().manual_seed(seed), split)
    return b["captions"], b["shape"], b["fg"], b["bg"]


def evaluate(tok, te, unet, ae, scale, n_main=2000, n_sweep=200, n_heldout=400, n_dpm=500):
    clf = load_features()
    res = {"sweep": {}}
    t0 = time.time()
    caps, s, f, b = prompts(n_sweep, 11, "train")
    for gs in (3.0, 4.0, 5.0):
        px = generate(tok, te, unet, ae, scale, caps, 1000 + int(gs), guidance=gs)
        res["sweep"][str(gs)] = attribute_scores(clf, px, s, f, b)
        print("sweep", gs, res["sweep"][str(gs)], f"{time.time() - t0:.0f}s", flush=True)
    best = max(res["sweep"], key=lambda k: (res["sweep"][k]["all_correct"], -float(k)))
    gs = float(best)
    res["guidance"] = gs
    caps, s, f, b = prompts(n_main, 12, "train")
    t1 = time.time()
    px = generate(tok, te, unet, ae, scale, caps, 2024, guidance=gs)
    res["sec_per_sample_ddim50"] = (time.time() - t1) / n_main
    res["main"] = attribute_scores(clf, px, s, f, b)
    real = data.make_batch(n_main, torch.Generator().manual_seed(13), "train")["pixels"]
    real2 = data.make_batch(n_main, torch.Generator().manual_seed(14), "train")["pixels"]
    fr, fr2, fg = extract_features(clf, real), extract_features(clf, real2), extract_features(clf, px)
    res["fd_gen_vs_real"] = frechet_distance(fg, fr)
    res["fd_real_vs_real"] = frechet_distance(fr2, fr)
    print("main", res["main"], "fd", res["fd_gen_vs_real"], "baseline", res["fd_real_vs_real"],
          f"{time.time() - t0:.0f}s", flush=True)
    caps, s, f, b = prompts(n_heldout, 15, "heldout")
    px = generate(tok, te, unet, ae, scale, caps, 2025, guidance=gs)
    res["heldout"] = attribute_scores(clf, px, s, f, b)
    print("heldout", res["heldout"], f"{time.time() - t0:.0f}s", flush=True)
    caps, s, f, b = prompts(n_dpm, 16, "train")
    px = generate(tok, te, unet, ae, scale, caps, 2026, sampler="dpmpp2m", steps=20, guidance=gs)
    res["dpm20"] = attribute_scores(clf, px, s, f, b)
    print("dpm20", res["dpm20"], f"{time.time() - t0:.0f}s", flush=True)
    # autoencoder reconstructions
    rb = data.make_batch(1000, torch.Generator().manual_seed(17), "train")
    with torch.no_grad():
        rec = data.to_unit(ae.decode(ae.encode(data.to_symmetric(rb["pixels"]))))
    res["ae_recon"] = attribute_scores(clf, rec, rb["shape"], rb["fg"], rb["bg"])
    res["ae_psnr"] = float(10 * torch.log10(1.0 / ((rec - rb["pixels"]) ** 2).mean()))
    res["eval_seconds"] = time.time() - t0
    return res


class BlockGraphRunner(torch.nn.Module):
    """Runs the exported TorchScript blocks as listed in the manifest's denoiser graph."""

    def __init__(self, pkg, manifest):
        super().__init__()
        comps = {c["name"]: c for c in manifest["components"]}
        self.blocks = [(b, torch.jit.load(os.path.join(pkg, comps[b["component"]]["file"])))
                       for b in manifest["denoiser"]["blocks"]]
        self.output = manifest["denoiser"]["output"]

    def forward(self, sample, timestep, encoder_hidden_states):
        env = {"sample": sample, "timestep": timestep, "encoder_hidden_states": encoder_hidden_states}
        for b, m in self.blocks:
            r = m(*[env[i] for i in b["inputs"]])
            r = r if isinstance(r, tuple) else (r,)
            env.update(zip(b["outputs"], r))
        return env[self.output]


SAMPLING_GOLDENS = (("ddim", 10, 0.5), ("dpmpp2m", 10, 0.0))


def record_sampling_goldens(runner, tok, gs, scale, eager=None, only=None):
    """Writes golden/sampling_<sampler>.npz: a full guided run over the exported TorchScript text
    encoder, UNet blocks (`runner`) and VAE decoder with recorded noise. `eager` = (text encoder,
    UNet) also runs the eager modules and prints the difference. Returns the manifest entries."""
    te_ts = torch.jit.load(os.path.join(PKG, "text_encoder.pt"))
    dec_ts = torch.jit.load(os.path.join(PKG, "vae_decoder.pt"))
    gcaps = ["a red circle on a blue background", "a yellow triangle on a purple background"]
    in_ids, un_ids = tok.encode_batch(gcaps), tok.encode_batch(["", ""])
    entries = []
    for sampler, steps, eta in SAMPLING_GOLDENS:
        entries.append(export.golden_entry(f"sampling/{sampler}", f"golden/sampling_{sampler}.npz"))
        if only is not None and sampler not in only:
            continue
        gg = torch.Generator().manual_seed(7 if sampler == "ddim" else 8)
        init = torch.randn(2, 4, 8, 8, generator=gg)
        arrays = {"input_ids": in_ids, "uncond_ids": un_ids, "init_noise": init}
        with torch.no_grad():
            fn = samplers.cfg_eps_fn(runner, te_ts(in_ids), te_ts(un_ids), gs)
            fe = samplers.cfg_eps_fn(eager[1], eager[0](in_ids), eager[0](un_ids), gs) if eager else None
            if sampler == "ddim":
                sn = torch.randn(steps, 2, 4, 8, 8, generator=gg)
                arrays["step_noise"] = sn
                zf = samplers.ddim_sample(fn, init, steps, eta=eta, step_noise=sn)
                arrays["timesteps"] = torch.tensor(samplers.leading_timesteps(steps), dtype=torch.int64)
                ze = samplers.ddim_sample(fe, init, steps, eta=eta, step_noise=sn) if eager else None
            else:
                zf = samplers.dpmpp2m_sample(fn, init, steps)
                ts, sg = samplers.dpmpp2m_sigmas(steps)
                arrays["timesteps"] = torch.tensor(ts, dtype=torch.int64)
                arrays["sigmas"] = torch.tensor(sg, dtype=torch.float64)
                ze = samplers.dpmpp2m_sample(fe, init, steps) if eager else None
            if eager:
                print(sampler, "golden TorchScript vs eager latent diff", (zf - ze).abs().max().item(), flush=True)
            arrays["latent_final"] = zf
            arrays["pixels"] = dec_ts(zf / scale)
        arrays["steps"] = torch.tensor(steps, dtype=torch.int64)
        arrays["guidance_scale"] = torch.tensor(gs, dtype=torch.float32)
        arrays["eta"] = torch.tensor(eta, dtype=torch.float32)
        export.write_golden(os.path.join(PKG, f"golden/sampling_{sampler}.npz"), arrays)
        print("wrote", f"golden/sampling_{sampler}.npz", flush=True)
    return entries


def rerecord_sampling_goldens(only):
    """Re-records the sampling goldens from the shipped package alone (manifest.json, TorchScript
    components), e.g. after a sampler's formulas changed; the rest of the package is untouched."""
    manifest = json.load(open(os.path.join(PKG, "manifest.json")))
    runner = BlockGraphRunner(PKG, manifest)
    tok = get_tokenizer(manifest["tokenizer"].get("maxLength", 16))
    gs = manifest["defaults"]["guidanceScale"]
    scale = manifest["latent"]["scaleFactor"]
    record_sampling_goldens(runner, tok, gs, scale, only=only)


def spec_of(name, t):
    dt = I64 if t.dtype == torch.int64 else F32
    return export.tensor_spec(name, dt, [-1] + list(t.shape[1:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--n-main", type=int, default=2000)
    ap.add_argument("--sampling-goldens-only", nargs="*", metavar="SAMPLER",
                    help="only re-record golden/sampling_<SAMPLER>.npz (all when none is named) from the "
                         "shipped package; needs no checkpoint")
    args = ap.parse_args()
    if args.sampling_goldens_only is not None:
        rerecord_sampling_goldens(args.sampling_goldens_only or None)
        return
    tok, te, unet, ae, scale, ck = load_all()
    eval_path = os.path.join(CK_DIR, "tiny_ldm_eval.json")
    res = None
    if os.path.exists(eval_path):
        res = json.load(open(eval_path))
        if res.get("ckpt_steps") != ck["steps"] or res.get("ckpt_seconds") != ck["train_seconds"]:
            res = None
    if res is None and not args.skip_eval:
        res = evaluate(tok, te, unet, ae, scale, n_main=args.n_main)
        res["ckpt_steps"], res["ckpt_seconds"] = ck["steps"], ck["train_seconds"]
        json.dump(res, open(eval_path, "w"), indent=2)
    gs = res["guidance"] if res else 4.0

    os.makedirs(os.path.join(PKG, "unet"), exist_ok=True)
    os.makedirs(os.path.join(PKG, "golden"), exist_ok=True)
    tok.save(os.path.join(PKG, "tokenizer.json"))
    comps, goldens = [], []
    L = tok.max_length
    # example batch-2 inputs from real data
    ex = data.make_batch(2, torch.Generator().manual_seed(42), "train")
    ids = tok.encode_batch(ex["captions"])
    pix = data.to_symmetric(ex["pixels"])
    with torch.no_grad():
        ctx = te(ids)
        lat = ae.encode(pix)
    c, gd = export.export_component(PKG, "text_encoder", te, (ids,),
                                    [export.tensor_spec("input_ids", I64, [-1, L])],
                                    [export.tensor_spec("last_hidden_state", F32, [-1, L, ctx.shape[-1]])])
    comps.append(c); goldens.append(gd)
    export.verify_reload(os.path.join(PKG, "text_encoder.pt"), te, (tok.encode_batch(["", "a red circle on a blue background", "x"]),))
    c, gd = export.export_component(PKG, "vae_encoder", ae.encoder, (pix,),
                                    [export.tensor_spec("pixels", F32, [-1, 3, 32, 32])],
                                    [export.tensor_spec("latent", F32, [-1, 4, 8, 8])])
    comps.append(c); goldens.append(gd)
    c, gd = export.export_component(PKG, "vae_decoder", ae.decoder, (lat,),
                                    [export.tensor_spec("latent", F32, [-1, 4, 8, 8])],
                                    [export.tensor_spec("pixels", F32, [-1, 3, 32, 32])])
    comps.append(c); goldens.append(gd)

    # UNet blocks, example env from a noised latent at t=500
    g = torch.Generator().manual_seed(43)
    env = {"sample": samplers.add_noise(lat * scale, torch.randn(lat.shape, generator=g), torch.tensor([500, 500])),
           "timestep": torch.tensor([500.0, 250.0]), "encoder_hidden_states": ctx}
    blocks = []
    with torch.no_grad():
        for name, ins, outs, cacheable in UNET_GRAPH:
            mod = unet.block(name)
            args_ = tuple(env[i] for i in ins)
            r = mod(*args_)
            r = r if isinstance(r, tuple) else (r,)
            env.update(zip(outs, r))
            cname = f"unet.{name}"
            c, gd = export.export_component(PKG, cname, mod, args_, [spec_of(i, env[i]) for i in ins],
                                            [spec_of(o, env[o]) for o in outs], file=f"unet/{name}.pt")
            comps.append(c); goldens.append(gd)
            blocks.append(export.block(name, cname, ins, outs, cacheable))
    denoiser = {"inputs": ["sample", "timestep", "encoder_hidden_states"], "blocks": blocks,
                "output": "noise_pred", "prediction": "PREDICTION_EPSILON", "timestepInput": "discrete",
                "timestepScale": 1.0}
    manifest = {"components": comps, "denoiser": denoiser}
    runner = BlockGraphRunner(PKG, manifest)
    # block graph vs eager UNet at another batch size
    with torch.no_grad():
        x3 = torch.randn(3, 4, 8, 8, generator=g)
        t3 = torch.tensor([999.0, 1.0, 437.0])
        c3 = te(tok.encode_batch(["", "a green square on a black background", "a white triangle on a orange background"]))
        dmax = (runner(x3, t3, c3) - unet(x3, t3, c3)).abs().max().item()
    print("block graph vs eager UNet max abs diff", dmax, flush=True)
    assert dmax <= 1e-5, dmax

    # sampling goldens with the exported TorchScript components
    goldens += record_sampling_goldens(runner, tok, gs, scale, eager=(te, unet))

    q = []
    if res:
        tr = "training-distribution prompts (training combinations, prompt seed 12), new noise seeds"
        m = res["main"]
        st = f"DDIM 50 steps, eta 0, guidance {gs:g}, {tr}"
        q += [export.quality("shape_acc_train_prompts", m["shape_acc"], m["n"], st),
              export.quality("fg_acc_train_prompts", m["fg_acc"], m["n"], st),
              export.quality("bg_acc_train_prompts", m["bg_acc"], m["n"], st),
              export.quality("all_correct_train_prompts", m["all_correct"], m["n"], st),
              export.quality("shapes_fd_2000", res["fd_gen_vs_real"], m["n"],
                             f"shapes-features Frechet distance (128-d) between {m['n']} generated images "
                             f"({st}) and {m['n']} real images (training combinations, seed 13)"),
              export.quality("shapes_fd_2000_real_vs_real_baseline", res["fd_real_vs_real"], m["n"],
                             "shapes-features Frechet distance between two sets of real images (seeds 13/14): "
                             "the floor for shapes_fd_2000"),
              export.quality("sec_per_sample_ddim50_cpu2", res["sec_per_sample_ddim50"], m["n"],
                             f"{st}; wall seconds per sample on 2 CPU cores, batch 250, eager PyTorch")]
        h = res["heldout"]
        sh = f"DDIM 50 steps, eta 0, guidance {gs:g}, held-out combinations (never trained), prompt seed 15"
        q += [export.quality("shape_acc_heldout", h["shape_acc"], h["n"], sh),
              export.quality("fg_acc_heldout", h["fg_acc"], h["n"], sh),
              export.quality("bg_acc_heldout", h["bg_acc"], h["n"], sh),
              export.quality("all_correct_heldout", h["all_correct"], h["n"], sh)]
        d = res["dpm20"]
        sd = f"DPM-Solver++(2M) 20 steps, guidance {gs:g}, training-distribution prompts, prompt seed 16"
        q += [export.quality("shape_acc_train_prompts", d["shape_acc"], d["n"], sd),
              export.quality("fg_acc_train_prompts", d["fg_acc"], d["n"], sd),
              export.quality("bg_acc_train_prompts", d["bg_acc"], d["n"], sd),
              export.quality("all_correct_train_prompts", d["all_correct"], d["n"], sd)]
        for k, v in res["sweep"].items():
            q.append(export.quality("all_correct_train_prompts", v["all_correct"], v["n"],
                                    f"guidance sweep: DDIM 50 steps, eta 0, guidance {float(k):g}, "
                                    "training-distribution prompts, prompt seed 11"))
        a = res["ae_recon"]
        q += [export.quality("autoencoder_recon_all_correct", a["all_correct"], a["n"],
                             "shapes-features classifier on autoencoder reconstructions of real images"),
              export.quality("autoencoder_recon_psnr_db", res["ae_psnr"], a["n"],
                             "PSNR of autoencoder reconstructions, pixels in [0,1]")]
    aeck = torch.load(os.path.join(CK_DIR, "autoencoder.pt"))
    cmd = ("cd models/train && flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_ldm "
           f"--minutes {ck['args']['minutes']:g} --seed {ck['args']['seed']} && flock /tmp/genloom-cpu.lock "
           "/usr/bin/python3 -m genloom_models.export_ldm")
    manifest = {
        "format": "genloom/v1",
        "name": "tiny-ldm",
        "version": "1.0.0",
        "kind": "MODEL_KIND_LATENT_DIFFUSION",
        "description": "Tiny latent diffusion model for the shapes zoo: 2-layer transformer text encoder, "
                       "UNet with cross-attention (epsilon prediction) exported as a block graph, "
                       "deterministic 32x32x3 -> 8x8x4 autoencoder.",
        "components": comps,
        "denoiser": denoiser,
        "tokenizer": tok.spec(),
        "latent": {"channels": 4, "height": 8, "width": 8, "frames": 1, "scaleFactor": scale, "downsample": 4},
        "schedule": samplers.schedule_spec(),
        "defaults": {"sampler": "ddim", "steps": 50, "guidanceScale": gs, "eta": 0.0, "width": 32, "height": 32,
                     "strength": 0.6},
        "supportedSizes": [{"width": 32, "height": 32}],
        "quality": q,
        "goldens": goldens,
        "training": {
            "command": cmd,
            "autoencoder_command": aeck["command"],
            "seed": str(ck["args"]["seed"]),
            "training_time_s": f"{ck['train_seconds']:.0f}",
            "autoencoder_training_time_s": f"{aeck['train_seconds']:.0f}",
            "steps": str(ck["steps"]),
            "batch_size": str(ck["args"]["batch"]),
            "optimizer": f"AdamW lr {ck['args']['lr']} (100-step warmup, cosine to 10%), weight_decay 0.01, "
                         f"grad clip 1.0, EMA {ck['args']['ema']}; epsilon MSE, t uniform 0..999",
            "caption_dropout": str(ck["args"]["caption_dropout"]),
            "parameters_unet": str(sum(p.numel() for p in unet.parameters())),
            "parameters_text_encoder": str(sum(p.numel() for p in te.parameters())),
            "parameters_autoencoder": str(aeck["parameters"]),
            "final_loss": f"{ck['final_loss']:.4f}",
            "data": "procedural 32x32 shapes (genloom_models/data.py make_batch, split train): one circle/square/"
                    "triangle of one of 8 colours (+-10 jitter) on a different solid background colour, fresh "
                    "images every step; caption 'a {color} {shape} on a {color} background'",
            "heldout_combinations": json.dumps([list(c) for c in data.HELDOUT]),
            "heldout_policy": "held-out (shape, fg, bg) combinations excluded from autoencoder and UNet training",
            "latent_scale_factor": f"1/std of autoencoder latents over 4000 training images = {scale:.6f}",
            "sampler_notes": "timestep_spacing 'leading' with steps_offset 1, each scheduler's own formula as in "
                             "diffusers 0.30.3: DDIM arange(N)*(1000//N) reversed + 1; DPM-Solver++(2M) "
                             "arange(N+1)*(1000//(N+1)) reversed, last dropped, + 1; DPM sigmas sqrt((1-a_t)/a_t) at "
                             "those timesteps, final sigma 0, first-order first and last step; CFG batch order "
                             "[uncond, cond]",
            "golden_notes": "sampling goldens: latent_final is the denoised latent in scaled space; pixels = "
                            "vae_decoder(latent_final / scale_factor); extra arrays timesteps (and sigmas for "
                            "dpmpp2m) are informative; step_noise[i] is added at step i (DDIM eta>0)",
        },
    }
    export.write_manifest(os.path.join(PKG, "manifest.json"), manifest)
    print("package size", export.package_size(PKG), "bytes", flush=True)
    print(json.dumps(res, indent=1) if res else "no evaluation", flush=True)


if __name__ == "__main__":
    main()
