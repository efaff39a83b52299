"""Train tiny-ldm (text encoder + UNet, epsilon prediction, SD scaled-linear betas) on latents of
the shared autoencoder.  Then run `python -m genloom_models.export_ldm` to evaluate and export.

  cd models/train && flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_ldm --minutes 13

Writes checkpoints/tiny_ldm.pt (EMA weights of text encoder and UNet, configs, training info).
"""
import argparse
import math
import os
import time

import torch
import torch.nn.functional as F

from . import data, samplers
from .autoencoder import load_autoencoder
from .ldm import TextEncoder, UNet
from .tokenizer import get_tokenizer

torch.set_num_threads(2)
TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CKPT = os.path.join(TRAIN_DIR, "checkpoints", "tiny_ldm.pt")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=13.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--caption_dropout", type=float, default=0.1)
    ap.add_argument("--ema", type=float, default=0.998)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    tok = get_tokenizer()
    ae, scale = load_autoencoder()
    te = TextEncoder(tok.vocab_size, tok.max_length)
    unet = UNet()
    params = list(te.parameters()) + list(unet.parameters())
    print("params text", sum(p.numel() for p in te.parameters()), "unet",
          sum(p.numel() for p in unet.parameters()), flush=True)
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    ac = samplers.sd_alphas_cumprod()
    g = torch.Generator().manual_seed(args.seed + 3000)
    empty = torch.tensor(tok.encode(""))
    budget, t0, step = args.minutes * 60, time.time(), 0
    losses = []
    while True:
        el = time.time() - t0
        if el > budget:
            break
        lr = args.lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * el / budget)))
        for pg in opt.param_groups:
            pg["lr"] = lr
        b = data.make_batch(args.batch, g, "train")
        with torch.no_grad():
            z0 = ae.encode(data.to_symmetric(b["pixels"])) * scale
        ids = tok.encode_batch(b["captions"])
        drop = torch.rand(args.batch, generator=g) < args.caption_dropout
        ids[drop] = empty
        t = torch.randint(0, 1000, (args.batch,), generator=g)
        noise = torch.randn(z0.shape, generator=g)
        xt = samplers.add_noise(z0, noise, t, ac)
        ctx = te(ids)
        pred = unet(xt, t.float(), ctx)
        loss = F.mse_loss(pred, noise)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        d = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(d).add_(p.detach(), alpha=1 - d)
        losses.append(loss.item())
        if step % 100 == 0:
            print(f"step {step} {el:.0f}s loss {sum(losses[-100:]) / 100:.4f} lr {lr:.5f}", flush=True)
    train_s = time.time() - t0
    with torch.no_grad():
        for e, p in zip(ema, params):
            p.copy_(e)
    torch.save({"text_encoder": te.state_dict(), "unet": unet.state_dict(), "unet_config": unet.config,
                "text_config": {"vocab_size": tok.vocab_size, "max_length": tok.max_length},
                "scale_factor": scale, "train_seconds": train_s, "steps": step, "args": vars(args),
                "final_loss": sum(losses[-200:]) / max(1, len(losses[-200:]))}, CKPT)
    print(f"saved {CKPT} steps {step} train {train_s:.0f}s", flush=True)


if __name__ == "__main__":
    main()
