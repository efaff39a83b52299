"""Export, verify and evaluate tiny-ar-s1 / tiny-ar-s2 packages.

  flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.export_ar --shuffle 2

The transformer is one TorchScript file, transformer.pt, with two traced methods over one copy of
the weights: components `prefill` and `decode` name that file and their method.

  /usr/bin/python3 -m genloom_models.export_ar --from-package tiny-ar-s1

re-exports the transformer of a shipped package without its training checkpoint: the weights are
read from the package's own prefill component (a transformer.pt, or the prefill.pt of packages
written before the transformer was one file), traced again on the inputs recorded in its goldens,
checked to give bit-identical outputs to the components it replaces and to meet every golden, and
written in place; the goldens and everything else in the package stay as they are.
"""
import argparse
import json
import os
import shutil
import time

import numpy as np
import torch

from genloom_models import ar_common as C
from genloom_models import export as E
from genloom_models.ar import ARModel, Transformer, generate
from genloom_models.vq import VQDecoderExport, VQEncoderExport

TRANSFORMER_FILE = "transformer.pt"
TRANSFORMER_METHODS = ("prefill", "decode")


def cfg_kwargs(cfg_start):
    """generate() arguments for constant guidance (0) or guidance rising linearly from cfg_start."""
    return {"cfg_shape": "linear", "cfg_start": cfg_start} if cfg_start else {}


def cfg_text(guidance, cfg_start):
    return (f"cfg={guidance:g} linear from {cfg_start:g}" if cfg_start else f"cfg={guidance:g} constant")


def f32(shape, name):
    return {"name": name, "dtype": "DTYPE_FLOAT32", "shape": list(shape)}


def i64(shape, name):
    return {"name": name, "dtype": "DTYPE_INT64", "shape": list(shape)}


def transformer_specs(m, codebook):
    """Input and output specs of the transformer's methods, by method."""
    ss = m.s * m.s
    kv = [m.layers, -1, m.heads, -1, m.hd]
    caches = [f32(kv, "k_cache"), f32(kv, "v_cache")]
    outputs = [f32([-1, ss, codebook], "logits")] + caches
    return {"prefill": ([i64([-1, -1], "input_ids")], outputs),
            "decode": ([i64([-1, ss], "codes"), i64([1], "position")] + caches, outputs)}


def save_transformer(m, examples, path):
    """Traces Transformer(m)'s methods on `examples` ({method: inputs}) into one TorchScript file at
    `path`, without the tracing machine's source paths, and returns it loaded back."""
    traced = torch.jit.trace_module(Transformer(m).eval(), examples, check_trace=False)
    torch.jit.save(traced, path)
    E.strip_debug_sources(path)
    return torch.jit.load(path).eval()


def transformer_components(m, codebook, path):
    """The manifest components `prefill` and `decode`: one file, one method each."""
    sha = C.sha256(path)
    return [{"name": name, "file": TRANSFORMER_FILE, "method": name, "inputs": ins, "outputs": outs,
             "sha256": sha} for name, (ins, outs) in transformer_specs(m, codebook).items()]


def golden_arrays(in_specs, out_specs, inputs, outputs):
    arrays = {sp["name"]: t.numpy() for sp, t in zip(in_specs, inputs)}
    # An output named like an input (residual blocks) is stored as "<name>.out".
    arrays.update({(sp["name"] + ".out" if sp["name"] in arrays else sp["name"]): t.detach().numpy()
                   for sp, t in zip(out_specs, outputs)})
    return arrays


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
    ap.add_argument("--from-package", dest="from_package", default=None,
                    help="re-export the transformer of this package (a name under models/ or a folder) "
                         "from the weights it ships, without a checkpoint; other options are ignored")
    a = ap.parse_args()
    torch.set_num_threads(2)
    if a.from_package:
        return from_package(a.from_package)
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
        E.strip_debug_sources(path)
        loaded = torch.jit.load(path)
        outs = loaded(*ex_inputs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        cname = fname[:-3]
        arrays = golden_arrays(in_specs, out_specs, ex_inputs, outs)
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

    # --- transformer: one file, traced methods prefill and decode --------------------------
    cond = C.encode_prompts(tok, real_caps)
    boi = torch.full((2, 1), m.boi_id, dtype=torch.long)
    ids2 = torch.cat([cond, boi], 1)
    _, kc, vc = Transformer(m).eval().prefill(ids2)
    win2 = m.to_windows(codes2)
    examples = {"prefill": (ids2,),
                "decode": (win2[:, 0].contiguous(), torch.tensor([T], dtype=torch.long), kc, vc)}
    tr = save_transformer(m, examples, os.path.join(pkg, TRANSFORMER_FILE))
    pre, dcd = tr.prefill, tr.decode
    comps.extend(transformer_components(m, vq.K, os.path.join(pkg, TRANSFORMER_FILE)))
    for name, (ins, outs) in transformer_specs(m, vq.K).items():
        outputs = getattr(tr, name)(*examples[name])
        np.savez(os.path.join(pkg, "golden", name + ".npz"),
                 **golden_arrays(ins, outs, examples[name], outputs))
        goldens.append({"subject": name, "file": f"golden/{name}.npz"})
    for stale in ("prefill.pt", "decode.pt"):  # the layout before the transformer was one file
        if os.path.exists(os.path.join(pkg, stale)):
            os.remove(os.path.join(pkg, stale))

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
    E.write_manifest(os.path.join(pkg, "manifest.json"), man)
    print("package bytes", E.package_size(pkg))
    print("wrote", pkg)


def _max_err(a, b):
    return float((torch.as_tensor(a).double() - torch.as_tensor(b).double()).abs().max())


@torch.no_grad()
def from_package(where, golden_atol=1e-5):
    """Re-exports the transformer of the package `where` from the weights it ships (see the module
    docstring). Returns the package folder."""
    pkg = where if os.path.isdir(where) else os.path.join(C.MODELS_DIR, where)
    with open(os.path.join(pkg, "manifest.json")) as f:
        man = json.load(f)
    ar = man["ar"]
    comps = {c["name"]: c for c in man["components"]}
    goldens = {g["subject"]: os.path.join(pkg, g["file"]) for g in man["goldens"]}

    # The components being replaced, as callables, and the weights they hold.
    sources, methods = {}, {}
    for name in TRANSFORMER_METHODS:
        mod = torch.jit.load(os.path.join(pkg, comps[name]["file"])).eval()
        methods[name] = getattr(mod, comps[name].get("method") or "forward")
        sources[name] = mod
    state = sources["prefill"].state_dict()
    other = sources["decode"].state_dict()
    if set(state) != set(other) or not all(torch.equal(state[k], other[k]) for k in state):
        raise ValueError(f"{pkg}: prefill and decode do not hold the same weights")
    if not all(k.startswith("m.") for k in state):
        raise ValueError(f"{pkg}: prefill's parameters are not those of an ARModel under 'm.'")
    state = {k[2:]: v for k, v in state.items()}

    # The model the manifest describes: d = heads x head_dim; the prefix is maxPositions less the
    # image positions (text_len ids + [BOI]); residual MLPs of Token-Shuffle as many as shipped.
    s, grid = ar["shuffleWindow"], ar["gridHeight"]
    n = (grid // s) ** 2
    n_res = len({k.split(".")[1] for k in state if k.startswith("shuf_res.")}) or 2
    m = ARModel(ar["textVocabSize"], ar["codebookSize"], d=ar["numHeads"] * ar["headDim"],
                layers=ar["numLayers"], heads=ar["numHeads"], shuffle=s, grid=grid,
                text_len=ar["maxPositions"] - n - 1, n_res=n_res)
    m.load_state_dict(state)  # strict: every parameter present, of the recorded shape
    m.eval()
    if (m.boi_id, m.eoi_id) != (ar["boiId"], ar["eoiId"]):
        raise ValueError(f"{pkg}: the rebuilt model's BOI/EOI ids differ from the manifest's")

    # Traced on the inputs the goldens recorded.
    specs = transformer_specs(m, ar["codebookSize"])
    recorded = {name: np.load(goldens[name]) for name in TRANSFORMER_METHODS}
    examples = {name: tuple(torch.from_numpy(recorded[name][sp["name"]]) for sp in specs[name][0])
                for name in TRANSFORMER_METHODS}
    path = os.path.join(pkg, TRANSFORMER_FILE)
    tr = save_transformer(m, examples, path)
    for name in TRANSFORMER_METHODS:
        old, new = methods[name](*examples[name]), getattr(tr, name)(*examples[name])
        golden = golden_arrays(*specs[name], examples[name], new)
        for sp, a, b in zip(specs[name][1], old, new):
            if not torch.equal(a, b):
                raise AssertionError(f"{name}: output {sp['name']} differs from the shipped component's "
                                     f"(max abs {_max_err(a, b):.3g})")
        worst = max(_max_err(golden[k], recorded[name][k]) for k in golden)
        print(f"{name}: bit-identical to the shipped component; golden max abs err {worst:.3g}")
        if worst > golden_atol:
            raise AssertionError(f"{name}: golden max abs err {worst:.3g} > {golden_atol:g}")

    # The sampling golden, replayed with its recorded uniforms.
    rec = np.load(goldens["sampling/ar"])
    cfg = man["defaults"].get("cfgSchedule", {})
    kw = ({"cfg_shape": "linear", "cfg_start": float(cfg.get("start", 0.0))}
          if cfg.get("shape") == "SHAPE_LINEAR" else {})

    def replay(prefill, decode):
        return generate(prefill, decode, s, n, torch.from_numpy(rec["input_ids"]),
                        torch.from_numpy(rec["uncond_ids"]), guidance=float(rec["guidance_scale"]),
                        top_k=int(rec["top_k"]), top_p=float(rec["top_p"]),
                        temperature=float(rec["temperature"]),
                        uniforms=torch.from_numpy(rec["uniforms"]), record=True, **kw)

    win, got = replay(tr.prefill, tr.decode)
    shipped_win, shipped = replay(methods["prefill"], methods["decode"])
    if not (torch.equal(win, shipped_win) and torch.equal(got["guided_logits"], shipped["guided_logits"])):
        raise AssertionError("sampling/ar: the replay differs from the shipped components' replay")
    codes = m.from_windows(win)
    if not np.array_equal(codes.numpy(), rec["codes"]):
        raise AssertionError("sampling/ar: the replayed codes differ from the recorded ones")
    logit_err = _max_err(got["guided_logits"], rec["guided_logits"])
    dec = torch.jit.load(os.path.join(pkg, comps["vq_decoder"]["file"])).eval()
    pixel_err = _max_err(dec(codes), rec["pixels"])
    print(f"sampling/ar: replay bit-identical to the shipped components' and its codes as recorded; "
          f"guided logits max abs err {logit_err:.3g}, "
          f"pixels {pixel_err:.3g}")

    # The manifest: prefill and decode now name transformer.pt and their method; nothing else changes
    # but the record of the command that wrote the file.
    new_comps = {c["name"]: c for c in transformer_components(m, ar["codebookSize"], path)}
    for name in TRANSFORMER_METHODS:
        if (comps[name]["inputs"], comps[name]["outputs"]) != (new_comps[name]["inputs"],
                                                               new_comps[name]["outputs"]):
            raise AssertionError(f"{name}: the re-exported specs differ from the manifest's")
    man["components"] = [new_comps.get(c["name"], c) for c in man["components"]]
    step = C.command("export_ar")
    command = man["training"].get("command", "")
    if not command.endswith(step):
        man["training"]["command"] = command + " && " + step if command else step
    E.write_manifest(os.path.join(pkg, "manifest.json"), man)
    for name in TRANSFORMER_METHODS:
        stale = os.path.join(pkg, comps[name]["file"])
        if os.path.abspath(stale) != os.path.abspath(path) and os.path.exists(stale):
            os.remove(stale)
    print("package bytes", E.package_size(pkg))
    print("wrote", pkg)
    return pkg


if __name__ == "__main__":
    # The profiling executor re-specialises traced graphs for every new KV-cache length / batch,
    # which made Python sampling ~10x slower; plain execution is used for evaluation here.
    with torch.jit.optimized_execution(False):
        main()
