"""Train tiny-dit-video: flow-matching video DiT over per-frame latents of the shared autoencoder.

  flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_dit --seconds 900
"""
import argparse
import math
import os
import time

import torch

from genloom_models import ar_common as C
from genloom_models.dit import VideoDiT, first_frame_cond, frame_noise

DIT_CFG = dict(d=128, layers=4, heads=4, text_dim=64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=900)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dataset", type=int, default=8000)
    ap.add_argument("--drop", type=float, default=0.1)
    ap.add_argument("--cond_p", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(C.CKPT, "dit.pt"))
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--pooled_text", type=int, default=1, help="add pooled text to the adaLN embedding")
    ap.add_argument("--fixed_pos", type=int, default=0,
                    help="add fixed sin-cos frame and patch-position embeddings (a stage continuing a "
                         "checkpoint trained without them may switch them on)")
    ap.add_argument("--out_maps", type=int, default=0,
                    help="K bilinear-gated space-time output maps in the final layer (see dit.FinalLayer); "
                         "a stage continuing a checkpoint trained without them may switch them on")
    ap.add_argument("--speed", default="1.5,2.5",
                    help="min,max pixels per frame of the training videos (the evaluation uses 1.5,2.5); "
                         "a wider range makes the first frame's position say less about the direction")
    ap.add_argument("--init", default=None, help="continue from a DiT checkpoint")
    ap.add_argument("--sigma_shift", type=float, default=1.0,
                    help="shift the logit-normal noise levels towards pure noise (SD3-style "
                         "sigma' = k sigma / (1 + (k - 1) sigma)); k > 1 trains more where the layout "
                         "and the trajectory of a text-to-video sample are decided")
    ap.add_argument("--frame_noise_corr", type=float, default=0.0,
                    help="correlation of the noise across frames (mixed noise prior: a shared per-video "
                         "component of variance rho plus an independent per-frame one of 1 - rho); the "
                         "sampler must draw its initial noise the same way")
    a = ap.parse_args()
    if not 0.0 <= a.frame_noise_corr < 1.0:
        raise SystemExit("--frame_noise_corr must be in [0, 1)")
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    rng = C.np_rng(a.seed + 3)
    tok = C.tokenizer()
    vae_enc, _, scale = C.load_vae()
    t_data = time.time()
    try:
        speed = tuple(float(v) for v in a.speed.split(","))
    except ValueError:
        speed = ()
    if len(speed) != 2 or not 0.0 < speed[0] <= speed[1]:
        raise SystemExit(f"--speed must be min,max pixels per frame with 0 < min <= max, got {a.speed!r}")
    ids, lat = C.video_latent_dataset(rng, vae_enc, scale, tok, a.dataset, speed=speed)
    print(f"dataset {ids.shape} {lat.shape} std {lat.std():.3f} in {time.time()-t_data:.0f}s", flush=True)
    empty = C.encode_prompts(tok, [""])[0]
    cfg = dict(DIT_CFG, d=a.d, layers=a.layers, pooled_text=bool(a.pooled_text), fixed_pos=bool(a.fixed_pos), out_maps=a.out_maps)
    m = VideoDiT(C.text_vocab(tok), C.MAX_LEN, frames=lat.shape[2], **cfg)
    prev_s, prev_steps, warm, history = 0.0, 0, 100, []
    if a.init:
        ck0 = torch.load(a.init)
        # a checkpoint trained without fixed_pos lacks its (non-learned) buffer, and one trained
        # without out_maps lacks those (zero-initialised, so the stage starts from the same model)
        missing = m.load_state_dict(ck0["state"], strict=False).missing_keys
        new = ("embed.pos_fixed", "final_layer.om_")
        missing = [k for k in missing if not k.startswith(new)]
        extra = sorted(set(ck0["state"]) - set(m.state_dict()))
        if missing or extra:
            raise SystemExit(f"{a.init}: not a checkpoint of this DiT configuration (missing {missing}, "
                             f"unexpected {extra}; were --d/--layers/--out_maps as in its stages?)")
        prev_s, prev_steps, warm, history = ck0["seconds"], ck0["steps"], 1, ck0.get("history", [])
    opt = torch.optim.AdamW(m.parameters(), lr=a.lr, weight_decay=0.0)
    t0, step, ema = time.time(), 0, None
    while True:
        el = time.time() - t0
        if el > a.seconds:
            break
        frac = el / a.seconds
        lr = a.lr * min(1.0, (step + 1) / warm) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, ids.shape[0], (a.batch,))
        txt = ids[idx].clone()
        txt[torch.rand(a.batch) < a.drop] = empty
        x0 = lat[idx]
        # flip-free: the direction is in the caption, no augmentation that would change it
        eps = frame_noise(x0.shape, a.frame_noise_corr)
        sigma = torch.sigmoid(torch.randn(a.batch))  # logit-normal(0, 1)
        sigma = a.sigma_shift * sigma / (1 + (a.sigma_shift - 1) * sigma)
        sv = sigma.view(-1, 1, 1, 1, 1)
        xs = (1 - sv) * x0 + sv * eps
        cl, cm = first_frame_cond(x0, torch.rand(a.batch) < a.cond_p)
        v = m(xs, sigma * 1000.0, txt, cl, cm)
        loss = (v - (eps - x0)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 25 == 0:
            print(f"step {step} t={el:.0f}s lr {lr:.2e} loss {ema:.4f}", flush=True)
    torch.save({"state": m.state_dict(), "cfg": cfg, "lr": a.lr, "frames": lat.shape[2], "steps": step + prev_steps,
                "seconds": time.time() - t0 + prev_s, "seed": a.seed, "sigma_shift": a.sigma_shift,
                "frame_noise_corr": a.frame_noise_corr, "speed": a.speed,
                "history": history + [C.command("train_dit")], "batch": a.batch, "dataset": a.dataset,
                "final_loss": ema}, a.out)
    print("saved", a.out, "steps", step)


if __name__ == "__main__":
    main()
