"""shapes-features: small CNN classifying (shape, fg colour, bg colour) with 128-d penultimate features.

  cd models/train && flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_features --minutes 4

Trains on the training combinations only (data.HELDOUT excluded), evaluates on fresh images of the
training and held-out combinations, exports models/shapes-features/ (features.pt, golden, manifest).
"""
import argparse
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import data, export
from .evaluate import frechet_distance

torch.set_num_threads(2)
TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(os.path.dirname(TRAIN_DIR), "shapes-features")
CKPT = os.path.join(TRAIN_DIR, "checkpoints")


def cbr(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class FeaturesNet(nn.Module):
    """pixels [B,3,32,32] in [0,1] -> features [B,128], shape/fg/bg logits."""

    def __init__(self, feature_dim=128):
        super().__init__()
        self.body = nn.Sequential(cbr(3, 16), nn.MaxPool2d(2),
                                  cbr(16, 32), cbr(32, 32), nn.MaxPool2d(2),
                                  cbr(32, 64), cbr(64, 64), nn.MaxPool2d(2),
                                  cbr(64, 128))
        self.proj = nn.Conv2d(128, feature_dim, 1)
        self.shape_head = nn.Conv2d(feature_dim, 3, 1)
        self.fg_head = nn.Conv2d(feature_dim, 8, 1)
        self.bg_head = nn.Conv2d(feature_dim, 8, 1)

    def forward(self, pixels):
        h = self.body(pixels * 2.0 - 1.0)
        h = F.adaptive_avg_pool2d(h, 1)
        f = F.relu(self.proj(h))
        return (f.flatten(1), self.shape_head(f).flatten(1), self.fg_head(f).flatten(1),
                self.bg_head(f).flatten(1))


@torch.no_grad()
def accuracy(model, split, n, seed):
    model.eval()
    b = data.make_batch(n, torch.Generator().manual_seed(seed), split)
    outs = [model(b["pixels"][i:i + 500]) for i in range(0, n, 500)]
    ls, lf, lb = (torch.cat([o[k] for o in outs]) for k in (1, 2, 3))
    cs, cf, cb = ls.argmax(1) == b["shape"], lf.argmax(1) == b["fg"], lb.argmax(1) == b["bg"]
    return {"shape_acc": cs.float().mean().item(), "fg_acc": cf.float().mean().item(),
            "bg_acc": cb.float().mean().item(), "all_correct": (cs & cf & cb).float().mean().item()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model = FeaturesNet()
    nparams = sum(p.numel() for p in model.parameters())
    print(f"params {nparams}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(args.seed + 1000)
    budget = args.minutes * 60
    t0 = time.time()
    step = 0
    while True:
        el = time.time() - t0
        if el > budget:
            break
        lr = args.lr * 0.5 * (1 + torch.cos(torch.tensor(min(el / budget, 1.0) * 3.14159265)).item())
        for pg in opt.param_groups:
            pg["lr"] = lr
        model.train()
        b = data.make_batch(args.batch, g, "train")
        _, ls, lf, lb = model(b["pixels"])
        loss = F.cross_entropy(ls, b["shape"]) + F.cross_entropy(lf, b["fg"]) + F.cross_entropy(lb, b["bg"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step} {el:.0f}s loss {loss.item():.4f} lr {lr:.5f}", flush=True)
    train_s = time.time() - t0
    model.eval()
    acc_tr = accuracy(model, "train", 5000, 123)
    acc_ho = accuracy(model, "heldout", 2000, 456)
    print("train-combos", acc_tr, "\nheldout", acc_ho, flush=True)
    os.makedirs(CKPT, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "feature_dim": 128}, os.path.join(CKPT, "features.pt"))

    # real-vs-real Frechet distance baseline (2000 vs 2000, training combinations, different seeds)
    with torch.no_grad():
        r1 = data.make_batch(2000, torch.Generator().manual_seed(777), "train")["pixels"]
        r2 = data.make_batch(2000, torch.Generator().manual_seed(778), "train")["pixels"]
        fd_rr = frechet_distance(model(r1)[0], model(r2)[0])
    print("FD real-vs-real", fd_rr, flush=True)

    # ---- export
    os.makedirs(PKG, exist_ok=True)
    ex = data.make_batch(2, torch.Generator().manual_seed(42), "train")["pixels"]
    f32 = "DTYPE_FLOAT32"
    ins = [export.tensor_spec("pixels", f32, [-1, 3, 32, 32])]
    outs = [export.tensor_spec("features", f32, [-1, 128]), export.tensor_spec("shape_logits", f32, [-1, 3]),
            export.tensor_spec("fg_logits", f32, [-1, 8]), export.tensor_spec("bg_logits", f32, [-1, 8])]
    comp, gold = export.export_component(PKG, "features", model, (ex,), ins, outs)
    # reload check at another batch size
    export.verify_reload(os.path.join(PKG, "features.pt"), model, (r1[:7],))
    cmd = f"cd models/train && flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_features --minutes {args.minutes:g} --seed {args.seed}"
    setting_tr = "5000 fresh real images, training combinations, seed 123"
    setting_ho = "2000 fresh real images, held-out combinations, seed 456"
    q = [export.quality("shape_acc", acc_tr["shape_acc"], 5000, setting_tr),
         export.quality("fg_acc", acc_tr["fg_acc"], 5000, setting_tr),
         export.quality("bg_acc", acc_tr["bg_acc"], 5000, setting_tr),
         export.quality("all_correct", acc_tr["all_correct"], 5000, setting_tr),
         export.quality("shape_acc_heldout", acc_ho["shape_acc"], 2000, setting_ho),
         export.quality("fg_acc_heldout", acc_ho["fg_acc"], 2000, setting_ho),
         export.quality("bg_acc_heldout", acc_ho["bg_acc"], 2000, setting_ho),
         export.quality("all_correct_heldout", acc_ho["all_correct"], 2000, setting_ho),
         export.quality("shapes_fd_real_vs_real_2000", fd_rr, 2000,
                        "features FD between 2000 and 2000 real images (training combinations, seeds 777/778)")]
    manifest = {
        "format": "genloom/v1",
        "name": "shapes-features",
        "version": "1.0.0",
        "kind": "MODEL_KIND_FEATURES",
        "description": "Small CNN for the shapes zoo: classifies shape, foreground and background colour; "
                       "128-d penultimate features for Frechet distance.",
        "components": [comp],
        "features": {"featureDim": 128, "inputHeight": 32, "inputWidth": 32, "inputRange": "unit",
                     "heads": [{"name": "shape", "labels": data.SHAPES},
                               {"name": "fg", "labels": data.COLORS},
                               {"name": "bg", "labels": data.COLORS}]},
        "supportedSizes": [{"width": 32, "height": 32}],
        "quality": q,
        "goldens": [gold],
        "training": {
            "command": cmd,
            "seed": str(args.seed),
            "training_time_s": f"{train_s:.0f}",
            "steps": str(step),
            "batch_size": str(args.batch),
            "parameters": str(nparams),
            "optimizer": f"AdamW lr {args.lr} cosine, weight_decay 1e-4, cross-entropy on the three heads",
            "data": "procedural 32x32 shapes (genloom_models/data.py make_batch, split train): one circle/square/"
                    "triangle of one of 8 colours (+-10 jitter) on a different solid background colour, fresh "
                    "images every step",
            "heldout_combinations": json.dumps([list(c) for c in data.HELDOUT]),
            "heldout_policy": "held-out (shape, fg, bg) combinations excluded from training; scored separately",
        },
    }
    export.write_manifest(os.path.join(PKG, "manifest.json"), manifest)
    print(f"wrote {PKG} ({export.package_size(PKG)} bytes), steps {step}, train {train_s:.0f}s", flush=True)


if __name__ == "__main__":
    main()
