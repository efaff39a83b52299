"""Train the VQ tokenizer shared by tiny-ar-s1 and tiny-ar-s2.

  flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_vq --seconds 200
"""
import argparse
import os
import time

import torch
import torch.nn.functional as F

from genloom_models.vq import VQModel
from genloom_models import ar_common


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=200)
    ap.add_argument("--batch", type=int, default=96)
    ap.add_argument("--codebook", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(ar_common.CKPT, "vq.pt"))
    ap.add_argument("--finetune_decoder", default=None,
                    help="VQ checkpoint whose encoder+codebook stay frozen (codes unchanged); train decoder only")
    ap.add_argument("--enc_res", type=int, default=1)
    ap.add_argument("--dec_ch", type=int, default=64)
    ap.add_argument("--dec_res", type=int, default=1)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--l1", type=float, default=0.5, help="weight of the L1 term (MSE weight 1)")
    ap.add_argument("--init", default=None, help="warm-start encoder/decoder from a VQ checkpoint")
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    rng = ar_common.np_rng(a.seed)
    arch = {"enc_res": a.enc_res, "dec_ch": a.dec_ch, "dec_res": a.dec_res}
    vq = VQModel(codebook_size=a.codebook, **arch)
    prev_seconds = 0.0
    if a.init:
        ck = torch.load(a.init)
        prev_seconds = ck["seconds"]
        st = {k: v for k, v in ck["state"].items() if k.startswith(("encoder.", "decoder."))}
        vq.load_state_dict(st, strict=False)
    frozen = None
    if a.finetune_decoder:
        ck = torch.load(a.finetune_decoder)
        prev_seconds = ck["seconds"]
        arch = ck.get("arch", {})
        vq = VQModel(codebook_size=ck["codebook_size"], **arch)
        vq.load_state_dict(ck["state"])
        vq.encoder.requires_grad_(False)
        frozen = ck
    opt = torch.optim.Adam([p for p in vq.parameters() if p.requires_grad], lr=a.lr)
    t0, step = time.time(), 0
    if frozen is None:  # initialise the codebook from encoder outputs
        with torch.no_grad():
            x, _ = ar_common.image_batch(rng, 512)
            z = vq.encoder(x).permute(0, 2, 3, 1).reshape(-1, vq.dim)
            idx = torch.randperm(z.shape[0])[: vq.K]
            vq.codebook.copy_(z[idx])
            vq.ema_sum.copy_(z[idx])
    else:
        vq.eval()  # no EMA codebook updates: codes stay exactly as the AR models saw them
    while time.time() - t0 < a.seconds:
        frac = (time.time() - t0) / a.seconds
        for g in opt.param_groups:
            g["lr"] = a.lr * (0.1 + 0.9 * (1 - frac))
        x, _ = ar_common.image_batch(rng, a.batch)
        if frozen is not None:
            with torch.no_grad():
                codes = vq.encode(x)
            rec, commit = vq.decode(codes), torch.zeros(())
        else:
            rec, commit, codes = vq(x)
        loss = F.mse_loss(rec, x) + a.l1 * F.l1_loss(rec, x) + 0.25 * commit
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            used = codes.unique().numel()
            print(f"step {step} t={time.time()-t0:.0f}s loss {loss.item():.4f} "
                  f"mse {F.mse_loss(rec, x).item():.4f} codes_used {used}", flush=True)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    if frozen is not None:
        step += frozen["steps"]
        a.codebook = frozen["codebook_size"]
    vq.eval()
    with torch.no_grad():  # report only: round trip judged by shapes-features (not used in training)
        x, caps = ar_common.image_batch(ar_common.np_rng(a.seed + 77), 1000)
        rec = vq.decode(vq.encode(x)).clamp(-1, 1)
        print("round trip", ar_common.score(rec, caps), "mse", F.mse_loss(rec, x).item(), flush=True)
    torch.save({"state": vq.state_dict(), "codebook_size": a.codebook, "arch": arch, "steps": step,
                "seconds": time.time() - t0 + prev_seconds, "seed": a.seed}, a.out)
    print("saved", a.out, "steps", step)


if __name__ == "__main__":
    main()
