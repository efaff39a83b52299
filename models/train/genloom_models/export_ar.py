"""Export, verify and evaluate tiny-ar-s1 / tiny-ar-s2 packages.

  flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.export_ar --shuffle 2
"""
import argparse
import json
import os
import shutil
import time

import numpy as np
import torch

from genloom_models import ar_common as C
from genloom_models.ar import ARModel, Decode, Prefill, generate
from genloom_models.vq import VQDecoderExport, VQEncoderExport


def cfg_kwargs(cfg_start):
    """generate() arguments for constant guidance (0) or guidance rising linearly from cfg_start."""
    return {"cfg_shape": "linear", "cfg_start": cfg_start} if cfg_start else {}


def cfg_text(guidance, cfg_start):
    return (f"cfg={guidance:g} linear from {cfg_start:g}" if cfg_start else f"cfg={guidance:g} constant")


def f32(shape, name):
    return {"name": name, "dtype": "DTYPE_FLOAT32", "shape": list(shape)}


def i64(shape, name):
    return {"name": name, "dtype": "DTYPE_INT64", "shape": list(shape)}


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shuffle", type=int, default=1)
    ap.add_argument("--name", default=None)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--top_k", type=int, default=8)
    ap.add_argument("--n_eval", type=int, default=250)
    ap.add_argument("--n_fd", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--no_eval", action="store_true")
    ap.add_argument("--sweep", type=int, default=1, help="pick the guidance scale from {2,3,5} first")
    ap.add_argument("--sweep_top_k", default="", help="comma list: also pick top_k from these (with --sweep)")
    ap.add_argument("--sweep_guidance", default="2,3,5", help="comma list of guidance scales (with --sweep)")
    ap.add_argument("--cfg_start", type=float, default=0.0,
                    help="0: constant guidance; > 0: guidance rising linearly from this value at the "
                         "first image position to --guidance at the last")
    ap.add_argument("--sweep_cfg_start", default="",
                    help="comma list: also pick --cfg_start from these (0 = constant; with --sweep)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    s = a.shuffle
    name = a.name or f"tiny-ar-s{s}"
    pkg = os.path.join(C.MODELS_DIR, name)
    os.makedirs(os.path.join(pkg, "golden"), exist_ok=True)
    tok = C.tokenizer()
    vq = C.load_vq()
    ck = torch.load(a.ckpt or os.path.join(C.CKPT, f"ar_s{s}.pt"))
    cfg = ck["cfg"]
    m = ARModel(C.text_vocab(tok), vq.K, d=cfg["d"], layers=cfg["layers"], heads=cfg["heads"],
                shuffle=s, text_len=C.MAX_LEN)
    m.load_state_dict(ck["state"])
    m.eval()
    T, N, ss = m.T, m.N, s * s
    comps, goldens = [], []

    def save(comp, fname, ex_inputs, in_specs, out_specs, trace=True):
        traced = torch.jit.trace(comp, ex_inputs, check_trace=False) if trace else comp
        path = os.path.join(pkg, fname)
        torch.jit.save(traced, path)
        loaded = torch.jit.load(path)
        outs = loaded(*ex_inputs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        cname = fname[:-3]
        arrays = {sp["name"]: t.numpy() for sp, t in zip(in_specs, ex_inputs)}
        # An output named like an input (residual blocks) is stored as "<name>.out".
        arrays.update({(sp["name"] + ".out" if sp["name"] in arrays else sp["name"]): t.detach().numpy()
                       for sp, t in zip(out_specs, outs)})
        np.savez(os.path.join(pkg, "golden", cname + ".npz"), **arrays)
        comps.append({"name": cname, "file": fname, "inputs": in_specs, "outputs": out_specs,
                      "sha256": C.sha256(path)})
        goldens.append({"subject": cname, "file": f"golden/{cname}.npz"})
        return loaded

    # --- VQ -----------------------------------------------------------------------------
    rng = C.np_rng(a.seed)
    real_x, real_caps = C.image_batch(rng, 2)
    enc = save(VQEncoderExport(vq).eval(), "vq_encoder.pt", (real_x,),
               [f32([-1, 3, 32, 32], "pixels")], [i64([-1, 8, 8], "codes")])
    codes2 = enc(real_x)
    dec = save(VQDecoderExport(vq).eval(), "vq_decoder.pt", (codes2,),
               [i64([-1, 8, 8], "codes")], [f32([-1, 3, 32, 32], "pixels")])

    # --- prefill / decode ----------------------------------------------------------------
    cond = C.encode_prompts(tok, real_caps)
    boi = torch.full((2, 1), m.boi_id, dtype=torch.long)
    ids2 = torch.cat([cond, boi], 1)
    kv_spec = [-1, m.layers, m.heads, -1, m.hd]
    kv_spec = [m.layers, -1, m.heads, -1, m.hd]
    pre = save(Prefill(m).eval(), "prefill.pt", (ids2,), [i64([-1, -1], "input_ids")],
               [f32([-1, ss, vq.K], "logits"), f32(kv_spec, "k_cache"), f32(kv_spec, "v_cache")])
    _, kc, vc = pre(ids2)
    win2 = m.to_windows(codes2)
    dcd = save(Decode(m).eval(), "decode.pt",
               (win2[:, 0].contiguous(), torch.tensor([T], dtype=torch.long), kc, vc),
               [i64([-1, ss], "codes"), i64([1], "position"), f32(kv_spec, "k_cache"),
                f32(kv_spec, "v_cache")],
               [f32([-1, ss, vq.K], "logits"), f32(kv_spec, "k_cache"), f32(kv_spec, "v_cache")])

    # --- verify: traced prefill + decode at every position == eager full sequence ------------
    max_err = 0.0
    for B in (2, 3):
        x, caps = C.image_batch(rng, B)
        cds = vq.encode(x)
        ids = torch.cat([C.encode_prompts(tok, caps), torch.full((B, 1), m.boi_id)], 1)
        with torch.no_grad():
            full = m(ids, cds)
            lg, kc, vc = pre(ids)
            max_err = max(max_err, (lg - full[:, 0]).abs().max().item())
            w = m.to_windows(cds)
            for i in range(N - 1):
                lg, kc, vc = dcd(w[:, i].contiguous(), torch.tensor([T + i]), kc, vc)
                max_err = max(max_err, (lg - full[:, i + 1]).abs().max().item())
    print("prefill+decode vs eager max abs err", max_err)
    assert max_err < 1e-4, max_err

    # --- guidance sweep (small, train prompts); the best scale becomes the package default ------
    sweep = []
    if a.sweep and not a.no_eval:
        gsw = torch.Generator().manual_seed(a.seed + 99)
        rs = C.np_rng(a.seed + 98)
        best = None
        top_ks = [int(k) for k in a.sweep_top_k.split(",")] if a.sweep_top_k else [a.top_k]
        starts = [float(c) for c in a.sweep_cfg_start.split(",")] if a.sweep_cfg_start else [a.cfg_start]
        scales = [float(g) for g in a.sweep_guidance.split(",")]
        for tk, cs, gs in [(tk, cs, gs) for tk in top_ks for cs in starts for gs in scales]:
            prompts = C.eval_prompts("train", 150, rs)
            ci = torch.cat([C.encode_prompts(tok, prompts), torch.full((150, 1), m.boi_id)], 1)
            ui = torch.cat([C.encode_prompts(tok, [""] * 150), torch.full((150, 1), m.boi_id)], 1)
            w = generate(pre, dcd, s, N, ci, ui, guidance=gs, top_k=tk, generator=gsw,
                         **cfg_kwargs(cs))
            sc = C.score(dec(m.from_windows(w)), prompts)
            print("sweep top_k", tk, "cfg", gs, "cfg_start", cs, sc, flush=True)
            tag = (f"_topk{tk}" if len(top_ks) > 1 else "") + (f"_linear{cs:g}" if cs else "")
            sweep.append({"metric": f"sweep_all_correct_train_prompts_cfg{gs:g}{tag}", "value": sc["all"],
                          "samples": 150, "setting": f"ar top_k={tk} {cfg_text(gs, cs)} (selection run)"})
            if best is None or sc["all"] > best[1]:
                best = (gs, sc["all"], tk, cs)
        a.guidance, a.top_k, a.cfg_start = best[0], best[2], best[3]
        print("chosen guidance", a.guidance, "top_k", a.top_k, "cfg_start", a.cfg_start)

    # --- golden sampling run ----------------------------------------------------------------
    g = torch.Generator().manual_seed(a.seed)
    prompts = ["a red circle on a blue background", "a yellow triangle on a black background"]
    prompts = C.golden_prompts(prompts)
    cids = torch.cat([C.encode_prompts(tok, prompts), torch.full((2, 1), m.boi_id)], 1)
    uids = torch.cat([C.encode_prompts(tok, ["", ""]), torch.full((2, 1), m.boi_id)], 1)
    win, rec = generate(pre, dcd, s, N, cids, uids, guidance=a.guidance, top_k=a.top_k,
                        generator=g, record=True, **cfg_kwargs(a.cfg_start))
    gcodes = m.from_windows(win)
    gpix = dec(gcodes)
    np.savez(os.path.join(pkg, "golden", "sampling_ar.npz"),
             input_ids=cids.numpy(), uncond_ids=uids.numpy(), uniforms=rec["uniforms"].numpy(),
             guided_logits=rec["guided_logits"].numpy(), window_codes=win.numpy(),
             codes=gcodes.numpy(), pixels=gpix.detach().numpy(),
             steps=np.array(N, np.int64), guidance_scale=np.array(a.guidance, np.float32),
             eta=np.array(0.0, np.float32), top_k=np.array(a.top_k, np.int64),
             top_p=np.array(1.0, np.float32), temperature=np.array(1.0, np.float32),
             seed=np.array(a.seed, np.int64))
    goldens.append({"subject": "sampling/ar", "file": "golden/sampling_ar.npz"})

    def quality_figures():
        # --- quality -----------------------------------------------------------------------------
        quality = []
        setting = f"ar top_k={a.top_k} temperature=1.0 top_p=1.0 {cfg_text(a.guidance, a.cfg_start)}"
        gen = torch.Generator().manual_seed(a.seed + 1)

        def sample_prompts(prompts, bs=100):
            pix, t_tot = [], 0.0
            for i in range(0, len(prompts), bs):
                p = prompts[i:i + bs]
                ci = torch.cat([C.encode_prompts(tok, p), torch.full((len(p), 1), m.boi_id)], 1)
                ui = torch.cat([C.encode_prompts(tok, [""] * len(p)), torch.full((len(p), 1), m.boi_id)], 1)
                t0 = time.time()
                w = generate(pre, dcd, s, N, ci, ui, guidance=a.guidance, top_k=a.top_k, generator=gen,
                             **cfg_kwargs(a.cfg_start))
                t_tot += time.time() - t0
                pix.append(dec(m.from_windows(w)))
            return torch.cat(pix), t_tot

        # VQ reconstruction quality
        x, caps = C.image_batch(rng, 500)
        rec_scores = C.score(dec(enc(x)), caps)
        quality.append({"metric": "vq_recon_all_correct", "value": rec_scores["all"], "samples": 500,
                        "setting": "vq_encoder -> vq_decoder on training-distribution images"})
        print("vq recon", rec_scores)
        for split in ("train", "heldout"):
            prompts = C.eval_prompts(split, a.n_eval, rng)
            pix, secs = sample_prompts(prompts)
            sc = C.score(pix, prompts)
            print(split, sc, f"{secs / len(prompts) * 1000:.2f} ms/image", flush=True)
            for k in ("all", "shape", "fg", "bg", "colors"):
                quality.append({"metric": f"{k}_correct_{split}_prompts", "value": sc[k],
                                "samples": len(prompts), "setting": setting})
            if split == "train":
                quality.append({"metric": "decode_ms_per_image_python", "value": secs / len(prompts) * 1000,
                                "samples": len(prompts),
                                "setting": setting + f", batch 100 (+100 uncond), traced prefill/decode, 2 CPU threads"})
        # single-image latency
        ci = torch.cat([C.encode_prompts(tok, prompts[:1]), torch.full((1, 1), m.boi_id)], 1)
        ui = torch.cat([C.encode_prompts(tok, [""]), torch.full((1, 1), m.boi_id)], 1)
        t0 = time.time()
        for _ in range(10):
            generate(pre, dcd, s, N, ci, ui, guidance=a.guidance, top_k=a.top_k, generator=gen,
                             **cfg_kwargs(a.cfg_start))
        lat = (time.time() - t0) / 10 * 1000
        print("batch-1 latency ms", lat)
        quality.append({"metric": "decode_ms_per_image_batch1_python", "value": lat, "samples": 10,
                        "setting": setting + ", batch 1 (+1 uncond), traced prefill/decode, 2 CPU threads"})
        # Fréchet distance, generated vs real
        prompts = C.eval_prompts("train", a.n_fd, rng)
        pix, _ = sample_prompts(prompts, bs=250)
        real, _ = C.image_batch(C.np_rng(a.seed + 7), a.n_fd)
        fd = C.frechet(pix, real)
        print("fd", fd)
        quality.append({"metric": f"shapes_fd_{a.n_fd}", "value": fd, "samples": a.n_fd,
                        "setting": setting + "; shapes-features Fréchet distance vs real training-distribution images"})

        return quality

    quality = [] if a.no_eval else quality_figures() + sweep

    # --- manifest ----------------------------------------------------------------------------
    C.write_tokenizer(tok, os.path.join(pkg, "tokenizer.json"))
    man = {
        "format": "genloom/v1", "name": name, "version": "1.0.0",
        "kind": "MODEL_KIND_AR_TOKEN_SHUFFLE",
        "description": (f"Llama-style AR transformer over VQ codes of 32x32 shapes images"
                        + (f", Token-Shuffle window s={s} ({N} image positions)" if s > 1 else
                           f", plain next-token baseline ({N} image positions)")),
        "components": comps,
        "tokenizer": C.tokenizer_spec(tok),
        "defaults": {"sampler": "ar", "steps": N, "guidanceScale": a.guidance, "width": 32, "height": 32,
                     "temperature": 1.0, "topK": a.top_k, "topP": 1.0,
                     "cfgSchedule": ({"shape": "SHAPE_LINEAR", "start": a.cfg_start} if a.cfg_start
                                     else {"shape": "SHAPE_CONSTANT", "start": 1.0})},
        "supportedSizes": [{"width": 32, "height": 32}],
        "quality": quality,
        "goldens": goldens,
        "ar": {"textVocabSize": m.text_vocab, "codebookSize": vq.K, "boiId": m.boi_id, "eoiId": m.eoi_id,
               "gridHeight": 8, "gridWidth": 8, "shuffleWindow": s, "numLayers": m.layers,
               "numHeads": m.heads, "headDim": m.hd, "maxPositions": T + N},
        "training": C.training_info({
            "command": " && ".join(["cd models/train", C.load_vq_meta()["command"] or "(VQ: see README)",
                                    *(ck.get("history") or [ck["command"]]), C.command("export_ar")]),
            "seed": str(ck["seed"]),
            "training_seconds": f"{ck['seconds']:.0f} (AR) + {C.load_vq_meta()['seconds']:.0f} (VQ)",
            "steps": f"{ck['steps']} AR steps, batch {ck['batch']}",
            "vq": (f"k-means over the shared autoencoder's 4-d latents ({C.load_vq_meta()['kmeans']}); decoder: "
                   f"the autoencoder's, {C.load_vq_meta()['arch'].get('decoder')} (round trip, 1,000 images: "
                   f"{C.load_vq_meta()['round_trip']})"),
            "final_loss": f"{ck['final_loss']:.4f}",
            "model": (f"d={m.d} layers={m.layers} heads={m.heads} head_dim={m.hd} SwiGLU RMSNorm RoPE; "
                      f"VQ codebook {vq.K}; caption dropout 10%; joint vocab: text ids, codes at "
                      f"text_vocab+code, BOI, EOI; decode takes raw codes 0..K-1"
                      + (f"; weights: exponential moving average (decay {ck['ema']:g}) over the last "
                         f"stage" if ck.get("ema") else "")),
            "prefill_decode_max_abs_err": f"{max_err:.2e}",
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
