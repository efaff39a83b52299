"""VQ tokenizer for tiny-ar-s1/s2 over the shared autoencoder's latent.

  flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_latent_vq --codebook 256 --seconds 300

1. Encode fresh training images with the frozen autoencoder of models/tiny-ldm (8x8 grid of
   4-d latents per image) and run k-means (k-means++ seeding, Lloyd iterations) on those vectors.
2. Fine-tune a copy of the autoencoder decoder on quantised latents for `--seconds` with a pixel
   loss (MSE + L1; no classifier term). Encoder and codebook stay frozen, so codes never change.
3. Report the round trip (pixels -> codes -> pixels) judged by shapes-features on 1,000 fresh
   images before and after the fine-tune, and keep the decoder that scores better.
"""
import argparse
import copy
import os
import time

import torch
import torch.nn.functional as F

from genloom_models import ar_common as C
from genloom_models.vq import LatentVQ, kmeans


def eager_decoder(state):
    """An eager copy of the autoencoder decoder (trainable) from a state dict."""
    from genloom_models.autoencoder import Decoder
    d = Decoder()
    d.load_state_dict(state)
    return d.eval()


@torch.no_grad()
def latents(enc, g, n, chunk=500):
    out = []
    for i in range(0, n, chunk):
        x, _ = C.image_batch(g, min(chunk, n - i))
        out.append(enc(x))
    z = torch.cat(out)
    return z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])


@torch.no_grad()
def round_trip(vq, seed):
    x, caps = C.image_batch(C.np_rng(seed), 1000)
    rec = vq.decode(vq.encode(x)).clamp(-1, 1)
    return C.score(rec, caps), F.mse_loss(rec, x).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codebook", type=int, default=256)
    ap.add_argument("--images", type=int, default=8000, help="training images for k-means")
    ap.add_argument("--iters", type=int, default=30, help="Lloyd iterations")
    ap.add_argument("--seconds", type=float, default=300, help="decoder fine-tune budget (0: none)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--l1", type=float, default=1.0, help="weight of the L1 term (MSE weight 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(C.CKPT, "vq.pt"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    g = C.np_rng(a.seed)
    enc, dec, _ = C.load_vae()
    t0 = time.time()
    z = latents(enc, g, a.images)
    codebook = kmeans(z, a.codebook, a.iters, torch.Generator().manual_seed(a.seed))
    t_km = time.time() - t0
    print(f"k-means: {a.codebook} centres over {z.shape[0]} latent vectors, {t_km:.0f}s", flush=True)
    vq = LatentVQ(enc, eager_decoder(dec.state_dict()), codebook).eval()
    before, mse_before = round_trip(vq, a.seed + 77)
    print("round trip with the frozen decoder", before, "mse", mse_before, flush=True)
    frozen_state = copy.deepcopy(vq.decoder.state_dict())

    params = [p for p in vq.decoder.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=a.lr)
    t1, step = time.time(), 0
    while time.time() - t1 < a.seconds:
        frac = (time.time() - t1) / a.seconds
        for grp in opt.param_groups:
            grp["lr"] = a.lr * (0.1 + 0.9 * (1 - frac))
        x, _ = C.image_batch(g, a.batch)
        with torch.no_grad():
            codes = vq.encode(x)
        rec = vq.decode(codes)
        loss = F.mse_loss(rec, x) + a.l1 * F.l1_loss(rec, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step} t={time.time()-t1:.0f}s loss {loss.item():.4f}", flush=True)
    for p in params:
        p.requires_grad_(False)
    after, mse_after = round_trip(vq, a.seed + 77)
    print("round trip with the fine-tuned decoder", after, "mse", mse_after, flush=True)
    kept = "fine-tuned"
    if after["all"] < before["all"]:
        vq.decoder.load_state_dict(frozen_state)
        kept = "frozen"
    print("kept the", kept, "decoder", flush=True)
    torch.save({"kind": "latent", "codebook_size": a.codebook, "codebook": vq.codebook,
                "decoder_state": vq.decoder.state_dict(), "steps": step, "seed": a.seed,
                "seconds": time.time() - t0, "command": C.command("train_latent_vq"), "arch": {"kind": "latent", "decoder": kept},
                "round_trip": {"frozen_decoder": before, "fine_tuned_decoder": after, "kept": kept},
                "kmeans": {"images": a.images, "iters": a.iters, "seconds": t_km}}, a.out)
    print("saved", a.out)


if __name__ == "__main__":
    main()
