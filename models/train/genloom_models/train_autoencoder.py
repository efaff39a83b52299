"""Train the shared autoencoder (32x32x3 -> 8x8x4) for tiny-ldm / tiny-dit-video.

  cd models/train && flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_autoencoder --minutes 6

Loss: L1 + 0.5 L2 on pixels + 0.1 * cross-entropy of the (frozen) shapes-features classifier on the
reconstruction (perceptual attribute term) + 1e-4 * mean(z^2) latent penalty.  Training
combinations only.  Writes checkpoints/autoencoder.pt (state_dict, config, scale_factor,
metrics) and touches checkpoints/.autoencoder_ready.
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F

from . import data
from .autoencoder import AutoEncoder, DEFAULT_CKPT
from .evaluate import attribute_scores, load_features

torch.set_num_threads(2)


@torch.no_grad()
def evaluate_ae(ae, clf, n=2000, seed=321, split="train"):
    ae.eval()
    b = data.make_batch(n, torch.Generator().manual_seed(seed), split)
    x = data.to_symmetric(b["pixels"])
    rec, zs = [], []
    for i in range(0, n, 250):
        r, z = ae(x[i:i + 250])
        rec.append(r)
        zs.append(z)
    rec, z = torch.cat(rec), torch.cat(zs)
    mse = F.mse_loss(data.to_unit(rec), b["pixels"]).item()
    psnr = 10 * math.log10(1.0 / mse)
    sc = attribute_scores(clf, data.to_unit(rec), b["shape"], b["fg"], b["bg"])
    return {"psnr": psnr, **sc, "latent_std": z.std().item(), "latent_mean": z.mean().item()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    ae = AutoEncoder()
    clf = load_features()
    for p in clf.parameters():
        p.requires_grad_(False)
    nparams = sum(p.numel() for p in ae.parameters())
    print("params", nparams, flush=True)
    opt = torch.optim.AdamW(ae.parameters(), lr=args.lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(args.seed + 2000)
    budget, t0, step = args.minutes * 60, time.time(), 0
    while True:
        el = time.time() - t0
        if el > budget:
            break
        frac = el / budget
        lr = args.lr * min(1.0, step / 50) * 0.5 * (1 + math.cos(math.pi * frac))
        for pg in opt.param_groups:
            pg["lr"] = lr
        ae.train()
        b = data.make_batch(args.batch, g, "train")
        x = data.to_symmetric(b["pixels"])
        rec, z = ae(x)
        l1 = (rec - x).abs().mean()
        l2 = ((rec - x) ** 2).mean()
        _, ls, lf, lb = clf(((rec + 1) / 2).clamp(0, 1))
        ce = F.cross_entropy(ls, b["shape"]) + F.cross_entropy(lf, b["fg"]) + F.cross_entropy(lb, b["bg"])
        loss = l1 + 0.5 * l2 + 0.1 * ce + 1e-4 * (z ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step} {el:.0f}s l1 {l1.item():.4f} ce {ce.item():.3f} lr {lr:.5f}", flush=True)
    train_s = time.time() - t0
    m = evaluate_ae(ae, clf)
    mh = evaluate_ae(ae, clf, 1000, 654, "heldout")
    # latent scale factor: 1/std of latents over fresh training images (like SD's 0.18215)
    with torch.no_grad():
        xb = data.to_symmetric(data.make_batch(4000, torch.Generator().manual_seed(999), "train")["pixels"])
        z = torch.cat([ae.encode(xb[i:i + 500]) for i in range(0, 4000, 500)])
        scale = 1.0 / z.std().item()
    print("train-combos", m, "\nheldout", mh, "\nscale_factor", scale, flush=True)
    ck = {"state_dict": ae.state_dict(), "config": ae.config, "scale_factor": scale,
          "metrics": {"train": m, "heldout": mh}, "train_seconds": train_s, "steps": step,
          "command": f"cd models/train && flock /tmp/genloom-cpu.lock /usr/bin/python3 -m "
                     f"genloom_models.train_autoencoder --minutes {args.minutes:g} --seed {args.seed}",
          "batch": args.batch, "seed": args.seed, "parameters": nparams}
    os.makedirs(os.path.dirname(DEFAULT_CKPT), exist_ok=True)
    torch.save(ck, DEFAULT_CKPT)
    with open(DEFAULT_CKPT.replace(".pt", ".json"), "w") as f:
        json.dump({k: v for k, v in ck.items() if k != "state_dict"}, f, indent=2)
    print(f"saved {DEFAULT_CKPT} steps {step} train {train_s:.0f}s", flush=True)


if __name__ == "__main__":
    main()
