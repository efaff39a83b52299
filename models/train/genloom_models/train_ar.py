"""Train tiny-ar-s1 (--shuffle 1) or tiny-ar-s2 (--shuffle 2) on VQ codes of shapes images.

  flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_ar --shuffle 2 --seconds 720
"""
import argparse
import math
import os
import time

import torch

from genloom_models import ar_common
from genloom_models.ar import ARModel

AR_CFG = dict(d=128, layers=4, heads=4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shuffle", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=720)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dataset", type=int, default=40000)
    ap.add_argument("--drop", type=float, default=0.1, help="caption dropout (empty prompt)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--ema", type=float, default=0.0,
                    help="keep an exponential moving average of the weights with this decay (e.g. "
                         "0.998) and save it as the checkpoint's weights; 0 saves the raw weights")
    ap.add_argument("--init", default=None, help="continue from an AR checkpoint of the same shuffle window")
    a = ap.parse_args()
    out = a.out or os.path.join(ar_common.CKPT, f"ar_s{a.shuffle}.pt")
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    rng = ar_common.np_rng(a.seed + 1)
    tok = ar_common.tokenizer()
    vq = ar_common.load_vq()
    t_data = time.time()
    ids, codes = ar_common.code_dataset(rng, vq, tok, a.dataset)
    print(f"dataset {ids.shape} {codes.shape} in {time.time()-t_data:.0f}s", flush=True)
    empty = ar_common.encode_prompts(tok, [""])[0]
    m = ARModel(ar_common.text_vocab(tok), vq.K, shuffle=a.shuffle, text_len=ar_common.MAX_LEN,
                **AR_CFG)
    prev_s, prev_steps, warm, history = 0.0, 0, 100, []
    if a.init:
        ck0 = torch.load(a.init)
        if ck0["cfg"]["shuffle"] != a.shuffle:
            raise SystemExit(f"{a.init}: shuffle window {ck0['cfg']['shuffle']}, not {a.shuffle}")
        m.load_state_dict(ck0["state"])
        prev_s, prev_steps, warm = ck0["seconds"], ck0["steps"], 1
        history = ck0.get("history") or [ck0["command"]]
    boi = torch.full((1,), m.boi_id, dtype=torch.long)
    opt = torch.optim.AdamW(m.parameters(), lr=a.lr, weight_decay=0.01, betas=(0.9, 0.95))
    avg = {k: v.detach().clone() for k, v in m.state_dict().items()} if a.ema else None
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
        drop = torch.rand(a.batch) < a.drop
        txt[drop] = empty
        prefix = torch.cat([txt, boi.expand(a.batch, 1)], 1)
        loss = m.loss(prefix, codes[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        if avg is not None:
            with torch.no_grad():
                for k, v in m.state_dict().items():
                    if v.is_floating_point():
                        avg[k].mul_(a.ema).add_(v, alpha=1.0 - a.ema)
                    else:
                        avg[k].copy_(v)
        step += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 25 == 0:
            print(f"step {step} t={el:.0f}s lr {lr:.2e} loss {ema:.4f}", flush=True)
    torch.save({"state": avg if avg is not None else m.state_dict(), "ema": a.ema, "cfg": dict(AR_CFG, shuffle=a.shuffle), "steps": step + prev_steps,
                "seconds": time.time() - t0 + prev_s, "seed": a.seed, "batch": a.batch,
                "dataset": a.dataset, "final_loss": ema, "history": history + [ar_common.command("train_ar")]}, out)
    print("saved", out, "steps", step)


if __name__ == "__main__":
    main()
