"""Export, verify and evaluate the tiny-dit-video package.

  flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.export_dit
"""
import argparse
import json
import os
import shutil
import time

import numpy as np
import torch

from genloom_models import ar_common as C
from genloom_models import samplers as S
from genloom_models.dit import VideoDiT, first_frame_cond, frame_noise, mix_frame_noise


def f32(shape, name):
    return {"name": name, "dtype": "DTYPE_FLOAT32", "shape": list(shape)}


def i64(shape, name):
    return {"name": name, "dtype": "DTYPE_INT64", "shape": list(shape)}


@torch.no_grad()
def euler_sample(denoise, ehs, uehs, noise, steps, guidance, cond_latent, cond_mask):
    """Flow-matching Euler (samplers.flow_euler_sample, linear-quadratic sigmas) with CFG as one batch
    [uncond, cond]: v = v_u + w (v_c - v_u); cond_latent / cond_mask go to both halves."""
    fn = S.cfg_velocity_fn(lambda x, t, ctx, cl, cm: denoise(x, t, ctx, cl, cm), ehs, uehs, guidance,
                           1000.0, cl=cond_latent, cm=cond_mask)
    return S.flow_euler_sample(fn, noise, steps, "linear_quadratic")


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="tiny-dit-video")
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--n_eval", type=int, default=100)
    ap.add_argument("--n_fd", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--no_eval", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    pkg = os.path.join(C.MODELS_DIR, a.name)
    os.makedirs(os.path.join(pkg, "golden"), exist_ok=True)
    tok = C.tokenizer()
    vae_enc, vae_dec, scale = C.load_vae()
    ck = torch.load(a.ckpt or os.path.join(C.CKPT, "dit.pt"))
    Fr = ck["frames"]
    corr = float(ck.get("frame_noise_corr", 0.0))
    m = VideoDiT(C.text_vocab(tok), C.MAX_LEN, frames=Fr, **ck["cfg"])
    m.load_state_dict(ck["state"])
    m.eval()
    comps, goldens, blocks = [], [], []
    rng = C.np_rng(a.seed)

    def save(module, cname, ex_inputs, in_specs, out_specs, file=None):
        path = os.path.join(pkg, file or cname + ".pt")
        if isinstance(module, torch.jit.ScriptModule):
            shutil.copyfile(module.src_path, path)
        else:
            torch.jit.save(torch.jit.trace(module, ex_inputs, check_trace=False), path)
        loaded = torch.jit.load(path)
        with torch.no_grad():
            outs = loaded(*ex_inputs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        arrays = {sp["name"]: t.numpy() for sp, t in zip(in_specs, ex_inputs)}
        # An output named like an input (residual blocks) is stored as "<name>.out".
        arrays.update({(sp["name"] + ".out" if sp["name"] in arrays else sp["name"]): t.detach().numpy()
                       for sp, t in zip(out_specs, outs)})
        np.savez(os.path.join(pkg, "golden", cname + ".npz"), **arrays)
        comps.append({"name": cname, "file": os.path.basename(path), "inputs": in_specs,
                      "outputs": out_specs, "sha256": C.sha256(path)})
        goldens.append({"subject": cname, "file": f"golden/{cname}.npz"})
        return loaded

    # --- example batch (2 videos; one text-to-video, one image-to-video) ----------------------
    vids, caps = C.video_batch(rng, 2)  # [2,F,3,32,32] in [-1,1]
    with torch.no_grad():
        x0 = C.encode_video(vae_enc, scale, vids)
    ids = C.encode_prompts(tok, caps)
    L = ids.shape[1]
    te = save(m.text_encoder, "text_encoder", (ids,), [i64([-1, L], "input_ids")],
              [f32([-1, L, ck["cfg"]["text_dim"]], "last_hidden_state")])
    frames = vids[:, :, 0]
    ve = save(vae_enc, "vae_encoder", (frames,), [f32([-1, 3, 32, 32], "pixels")],
              [f32([-1, 4, 8, 8], "latent")])
    vd = save(vae_dec, "vae_decoder", (ve(frames),), [f32([-1, 4, 8, 8], "latent")],
              [f32([-1, 3, 32, 32], "pixels")])
    with torch.no_grad():
        ehs = te(ids)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(a.seed))
    sig = torch.tensor([0.7, 0.3])
    xs = (1 - sig.view(-1, 1, 1, 1, 1)) * x0 + sig.view(-1, 1, 1, 1, 1) * noise
    cl, cm = first_frame_cond(x0, torch.tensor([False, True]))
    tsteps = sig * 1000.0
    lat_spec = [-1, 4, Fr, 8, 8]
    d, nt, dt = ck["cfg"]["d"], Fr * 16, ck["cfg"]["text_dim"]
    env_in = ["sample", "timestep", "encoder_hidden_states", "cond_latent", "cond_mask"]
    emb = save(m.embed, "transformer.embed", (xs, tsteps, ehs, cl, cm),
               [f32(lat_spec, "sample"), f32([-1], "timestep"), f32([-1, L, dt], "encoder_hidden_states"),
                f32(lat_spec, "cond_latent"), f32([-1, 1, Fr, 8, 8], "cond_mask")],
               [f32([-1, nt, d], "hidden_states"), f32([-1, d], "temb"), f32([-1, L, d], "context")])
    blocks.append({"name": "transformer.embed", "component": "transformer.embed", "inputs": env_in,
                   "outputs": ["hidden_states", "temb", "context"], "cacheable": False, "group": ""})
    with torch.no_grad():
        h, temb, ctx = emb(xs, tsteps, ehs, cl, cm)
    for i, blk in enumerate(m.blocks):
        cname = f"transformer_blocks.{i}"
        tb = save(blk, cname, (h, temb, ctx),
                  [f32([-1, nt, d], "hidden_states"), f32([-1, d], "temb"), f32([-1, L, d], "context")],
                  [f32([-1, nt, d], "hidden_states")])
        blocks.append({"name": cname, "component": cname, "inputs": ["hidden_states", "temb", "context"],
                       "outputs": ["hidden_states"], "cacheable": True, "group": "transformer_blocks"})
        with torch.no_grad():
            h = tb(h, temb, ctx)
    fl = save(m.final_layer, "transformer.final_layer", (h, temb),
              [f32([-1, nt, d], "hidden_states"), f32([-1, d], "temb")], [f32(lat_spec, "velocity")])
    blocks.append({"name": "transformer.final_layer", "component": "transformer.final_layer",
                   "inputs": ["hidden_states", "temb"], "outputs": ["velocity"], "cacheable": False,
                   "group": ""})
    traced_blocks = [torch.jit.load(os.path.join(pkg, f"transformer_blocks.{i}.pt"))
                     for i in range(len(m.blocks))]

    def denoise(sample, t, e, cl_, cm_):
        h_, tb_, c_ = emb(sample, t, e, cl_, cm_)
        for b in traced_blocks:
            h_ = b(h_, tb_, c_)
        return fl(h_, tb_)

    # verify blocks in order == eager, at batch 2 and 3
    max_err = 0.0
    with torch.no_grad():
        for B in (2, 3):
            v_, c_ = C.video_batch(rng, B)
            z = C.encode_video(vae_enc, scale, v_)
            s_ = torch.rand(B)
            n_ = torch.randn_like(z)
            zs = (1 - s_.view(-1, 1, 1, 1, 1)) * z + s_.view(-1, 1, 1, 1, 1) * n_
            cl_, cm_ = first_frame_cond(z, torch.rand(B) < 0.5)
            ii = C.encode_prompts(tok, c_)
            ref = m(zs, s_ * 1000, ii, cl_, cm_)
            got = denoise(zs, s_ * 1000, te(ii), cl_, cm_)
            max_err = max(max_err, (ref - got).abs().max().item())
    print("exported blocks vs eager max abs err", max_err)
    assert max_err < 1e-5, max_err

    sigmas = S.flow_euler_sigmas(a.steps, "linear_quadratic")
    uids = C.encode_prompts(tok, [""])

    def sample_videos(prompts, cond_frames=None, gen=None, bs=50):
        outs = []
        for i in range(0, len(prompts), bs):
            p = prompts[i:i + bs]
            B = len(p)
            with torch.no_grad():
                e = te(C.encode_prompts(tok, p))
                ue = te(uids.expand(B, -1))
            n0 = frame_noise((B, 4, Fr, 8, 8), corr, gen)
            if cond_frames is None:
                cl_, cm_ = torch.zeros_like(n0), torch.zeros(B, 1, Fr, 8, 8)
            else:
                with torch.no_grad():
                    z0 = ve(cond_frames[i:i + B]) * scale
                full = torch.zeros_like(n0)
                full[:, :, 0] = z0
                cl_, cm_ = first_frame_cond(full, torch.ones(B, dtype=torch.bool))
            x = euler_sample(denoise, e, ue, n0, a.steps, a.guidance, cl_, cm_)
            outs.append(C.decode_video(vd, scale, x))
        return torch.cat(outs)

    # golden sampling run (text-to-video, batch 1) with all randomness recorded
    gen = torch.Generator().manual_seed(a.seed)
    gp = C.golden_video_prompts()
    gids = C.encode_prompts(tok, gp)
    with torch.no_grad():
        e, ue = te(gids), te(uids.expand(len(gp), -1))
    # the per-frame draw and (with a frame-noise correlation) the frame-shared draw are recorded
    # separately, as the Java sampler draws them; the initial noise is their mix
    n_ind = torch.randn(len(gp), 4, Fr, 8, 8, generator=gen)
    n_shared = torch.randn(len(gp), 4, 1, 8, 8, generator=gen)
    n0 = mix_frame_noise(n_ind, n_shared, corr)
    zl = torch.zeros_like(n0)
    zm = torch.zeros(len(gp), 1, Fr, 8, 8)
    xf = euler_sample(denoise, e, ue, n0, a.steps, a.guidance, zl, zm)
    np.savez(os.path.join(pkg, "golden", "sampling_euler.npz"),
             input_ids=gids.numpy(), uncond_ids=uids.expand(len(gp), -1).numpy(), init_noise=n_ind.numpy(),
             init_noise_shared=n_shared.numpy(), frame_noise_correlation=np.array(corr, np.float32),
             cond_latent=zl.numpy(), cond_mask=zm.numpy(), sigmas=np.array(sigmas, np.float32),
             latent_final=xf.numpy(), pixels=C.decode_video(vd, scale, xf).numpy(),
             steps=np.array(a.steps, np.int64), guidance_scale=np.array(a.guidance, np.float32),
             eta=np.array(0.0, np.float32), scale_factor=np.array(scale, np.float32))
    goldens.append({"subject": "sampling/euler", "file": "golden/sampling_euler.npz"})

    def quality_figures():
        # --- quality ------------------------------------------------------------------------------
        quality = []
        setting = f"euler {a.steps} steps linear_quadratic, cfg {a.guidance}, 8 frames" + (
            f", initial noise correlated across frames (rho {corr:g})" if corr else "")
        gen = torch.Generator().manual_seed(a.seed + 1)
        fr = lambda v: v.permute(0, 2, 1, 3, 4).reshape(-1, 3, 32, 32)
        # train prompts: n_fd // F videos, all scored, and their frames used for the Fréchet distance
        nv = a.n_fd // Fr
        vids_ref, prompts = C.eval_video_prompts("train", nv, rng)
        t0 = time.time()
        pix = sample_videos(prompts, gen=gen)
        secs = (time.time() - t0) / len(prompts)
        sc = C.score_video(pix, prompts)
        print("train t2v", sc, f"{secs:.3f} s/video", flush=True)
        for k, v in sc.items():
            quality.append({"metric": f"t2v_{k}_train_prompts", "value": v, "samples": len(prompts),
                            "setting": setting + ", text-to-video, per-frame classifier probabilities "
                                                 "averaged over frames; motion = centroid moved >= 1 px "
                                                 "in the prompted direction (first vs last frame)"})
        quality.append({"metric": "t2v_seconds_per_video_python", "value": secs, "samples": len(prompts),
                        "setting": setting + ", batch 50 (+50 uncond), traced blocks, 2 CPU threads"})
        real = C.eval_video_prompts("train", nv, C.np_rng(a.seed + 7))[0]
        fd = C.frechet(fr(pix), fr(real))
        print("fd", fd, flush=True)
        quality.append({"metric": f"shapes_fd_{nv * Fr}_frames", "value": fd, "samples": nv * Fr,
                        "setting": setting + f"; shapes-features Fréchet distance, all frames of {nv} "
                                   f"generated vs {nv} real training-distribution videos"})
        # image-to-video: first frame of a real video as reference, same caption
        vids_ref, prompts = C.eval_video_prompts("train", a.n_eval, rng)
        pix = sample_videos(prompts, cond_frames=vids_ref[:, :, 0], gen=gen)
        sc = C.score_video(pix, prompts)
        print("train i2v", sc, flush=True)
        for k, v in sc.items():
            quality.append({"metric": f"i2v_{k}_train_prompts", "value": v, "samples": len(prompts),
                            "setting": setting + ", image-to-video from the first frame of a real video "
                                                 "with its caption (colors = reference colours kept)"})
        vids_ref, prompts = C.eval_video_prompts("heldout", a.n_eval, rng)
        pix = sample_videos(prompts, gen=gen)
        sc = C.score_video(pix, prompts)
        print("heldout t2v", sc, flush=True)
        for k, v in sc.items():
            quality.append({"metric": f"t2v_{k}_heldout_prompts", "value": v, "samples": len(prompts),
                            "setting": setting + ", text-to-video, held-out (shape, fg, bg) combinations"})
        return quality

    quality = [] if a.no_eval else quality_figures()

    C.write_tokenizer(tok, os.path.join(pkg, "tokenizer.json"))
    man = {
        "format": "genloom/v1", "name": a.name, "version": "1.0.0", "kind": "MODEL_KIND_DIT_VIDEO",
        "description": ("Tiny Movie Gen-style flow-matching video DiT over per-frame autoencoder latents "
                        "(8 frames, 32x32), adaLN, self-attention across frames, cross-attention to text; "
                        "text-to-video and first-frame image-to-video."),
        "components": comps,
        "denoiser": {"inputs": env_in, "blocks": blocks, "output": "velocity",
                     "prediction": "PREDICTION_FLOW_VELOCITY", "timestepInput": "sigma",
                     "timestepScale": 1000.0},
        "tokenizer": C.tokenizer_spec(tok),
        "latent": {"channels": 4, "height": 8, "width": 8, "frames": Fr, "scaleFactor": scale,
                   "downsample": 4},
        "schedule": {"type": "flow_matching", "numTrainTimesteps": 1000},
        "defaults": {"sampler": "euler", "steps": a.steps, "guidanceScale": a.guidance, "width": 32,
                     "height": 32, "numFrames": Fr, "fps": 8, "sigmaSchedule": "linear_quadratic",
                     **({"frameNoiseCorrelation": corr} if corr else {})},
        "supportedSizes": [{"width": 32, "height": 32}],
        "supportedFrameCounts": [Fr],
        "quality": quality,
        "goldens": goldens,
        "training": C.training_info({
            "command": " && ".join(["cd models/train"] + ck["history"] + [C.command("export_dit")]),
            "seed": str(ck["seed"]),
            "training_seconds": f"{ck['seconds']:.0f}",
            "steps": f"{ck['steps']} steps, batch {ck['batch']}, {ck['dataset']} videos",
            "final_loss": f"{ck['final_loss']:.4f}",
            "model": (f"d={d} blocks={len(m.blocks)} heads={ck['cfg']['heads']} text encoder dim {dt}; "
                      "flow matching, sigma ~ sigmoid(randn) (shifted towards noise where a stage sets --sigma_shift), first-frame conditioning for a "
                      "share of samples (--cond_p, 50% unless a stage in training.command says otherwise), "
                      "caption dropout 10%; "
                      + (f"final stages: noise correlated across frames (a shared per-video component of "
                         f"variance {corr:g} plus an independent per-frame one, the mixed noise prior of "
                         f"Ge et al. 2023), the same prior the sampler draws; " if corr else "")
                      + ("pooled text (mean of text hidden states, MLP) added to the timestep embedding "
                         "that drives adaLN; " if ck["cfg"].get("pooled_text") else "")
                      + ("fixed sin-cos frame and patch-position embeddings added to the learned ones; "
                         if ck["cfg"].get("fixed_pos") else "")
                      + (f"final layer adds {ck['cfg']['out_maps']} learned space-time velocity maps mixed "
                         "per sample by a bilinear product of two projections of the adaLN embedding "
                         "(colour x direction); " if ck["cfg"].get("out_maps") else "")
                      + "autoencoder shared with tiny-ldm (frozen, its TorchScript vae_encoder/vae_decoder "
                        "copied unchanged)"),
            "blocks_vs_eager_max_abs_err": f"{max_err:.2e}",
        }),
    }
    from genloom_models import export as E
    E.write_manifest(os.path.join(pkg, "manifest.json"), man)
    print("package bytes", E.package_size(pkg))
    print("wrote", pkg)


if __name__ == "__main__":
    # The profiling executor re-specialises traced graphs for every new KV-cache length / batch,
    # which made Python sampling ~10x slower; plain execution is used for evaluation here.
    with torch.jit.optimized_execution(False):
        main()
