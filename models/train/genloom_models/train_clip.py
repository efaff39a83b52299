"""Train shapes-clip: a small contrastive image/text encoder pair for the shapes zoo, exported as
a CLIP-style package (clip_image, clip_text, tokenizer) so that CLIP score runs through the same
code path a real exported CLIP would.

  cd models/train && flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_clip --seconds 150
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from genloom_models import data, export
from genloom_models.tokenizer import PAD_ID, get_tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PKG = os.path.join(ROOT, "shapes-clip")
DIM = 64


class ImageEncoder(nn.Module):
    """[B,3,32,32] in [0,1] -> [B,DIM] (not normalised; the score normalises)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 96, 3, padding=1), nn.GELU(), nn.AdaptiveAvgPool2d(1))
        self.proj = nn.Linear(96, DIM)

    def forward(self, pixels):
        return self.proj(self.net(pixels).flatten(1))


class TextEncoder(nn.Module):
    """[B,L] token ids -> [B,DIM]: mean of word embeddings (padding excluded), then an MLP."""

    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, 64)
        self.mlp = nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, DIM))

    def forward(self, input_ids):
        mask = (input_ids != PAD_ID).float().unsqueeze(-1)
        pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.mlp(pooled)


def clip_score(img, txt):
    """torchmetrics convention: mean over pairs of 100 * cos, clamped at 0 after averaging."""
    cos = F.cosine_similarity(img, txt, dim=-1)
    return max(float((100 * cos).mean()), 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=150)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    tok = get_tokenizer()
    image, text = ImageEncoder(), TextEncoder(len(tok.vocab))
    scale = nn.Parameter(torch.tensor(math.log(10.0)))
    params = list(image.parameters()) + list(text.parameters()) + [scale]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(a.seed)
    t0, step = time.time(), 0
    while time.time() - t0 < a.seconds:
        b = data.make_batch(a.batch, generator=g, split="train")
        ids = tok.encode_batch(b["captions"])
        zi = F.normalize(image(b["pixels"]), dim=-1)
        zt = F.normalize(text(ids), dim=-1)
        logits = zi @ zt.t() * scale.exp().clamp(max=100)
        # Several images can share a caption: every matching caption is a positive.
        same = torch.tensor([[c1 == c2 for c2 in b["captions"]] for c1 in b["captions"]], dtype=torch.float)
        target = same / same.sum(1, keepdim=True)
        loss = 0.5 * (-(target * F.log_softmax(logits, 1)).sum(1).mean()
                      - (target * F.log_softmax(logits.t(), 1)).sum(1).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step} t={time.time() - t0:.0f}s loss {loss.item():.3f}", flush=True)
    train_s = time.time() - t0
    image.eval()
    text.eval()

    # Evaluation: matched captions against captions with one attribute changed.
    with torch.no_grad():
        ev = data.make_batch(1000, torch.Generator().manual_seed(321), "train")
        zi = image(ev["pixels"])
        matched = clip_score(zi, text(tok.encode_batch(ev["captions"])))
        shuffled = [ev["captions"][(i + 1) % len(ev["captions"])] for i in range(len(ev["captions"]))]
        mismatched = clip_score(zi, text(tok.encode_batch(shuffled)))
        # retrieval: is the true caption the best of all 168 (shape, fg, bg) captions?
        n_shapes, n_colors = len(data.SHAPES), len(data.COLORS)
        all_captions = [data.caption(s, f, b) for s in range(n_shapes) for f in range(n_colors)
                        for b in range(n_colors) if f != b]
        zt_all = F.normalize(text(tok.encode_batch(all_captions)), dim=-1)
        best = (F.normalize(zi, dim=-1) @ zt_all.t()).argmax(1)
        top1 = float(np.mean([all_captions[int(k)] == c for k, c in zip(best, ev["captions"])]))
    print(f"CLIP score matched {matched:.2f}, shuffled {mismatched:.2f}, top-1 caption retrieval {top1:.3f}")

    os.makedirs(PKG, exist_ok=True)
    ex = data.make_batch(3, torch.Generator().manual_seed(42), "train")
    f32, i64 = "DTYPE_FLOAT32", "DTYPE_INT64"
    ci, gi = export.export_component(
        PKG, "clip_image", image, (ex["pixels"],),
        [export.tensor_spec("pixels", f32, [-1, 3, 32, 32])], [export.tensor_spec("embeds", f32, [-1, DIM])])
    ids = tok.encode_batch(ex["captions"])
    ct, gt = export.export_component(
        PKG, "clip_text", text, (ids,),
        [export.tensor_spec("input_ids", i64, [-1, tok.max_length])], [export.tensor_spec("embeds", f32, [-1, DIM])])
    tok.save(os.path.join(PKG, "tokenizer.json"))
    # A golden for the score itself: three images against their captions.
    with torch.no_grad():
        score = clip_score(image(ex["pixels"]), text(ids))
    export.write_golden(os.path.join(PKG, "golden", "clip_score.npz"),
                        {"pixels": ex["pixels"], "input_ids": ids, "clip_score": torch.tensor([score])})
    with open(os.path.join(PKG, "golden", "clip_score_captions.txt"), "w") as f:
        f.write("\n".join(ex["captions"]) + "\n")
    setting = "1000 fresh real images (training combinations, seed 321)"
    manifest = {
        "format": "genloom/v1",
        "name": "shapes-clip",
        "version": "1.0.0",
        "kind": "MODEL_KIND_FEATURES",
        "description": "Contrastive image/text encoders for the shapes zoo (CLIP-style, 64-d): "
                       "CLIP score = mean over pairs of 100 cos(image, text), clamped at 0.",
        "components": [ci, ct],
        "tokenizer": tok.spec(),
        "features": {"featureDim": DIM, "inputHeight": 32, "inputWidth": 32, "inputRange": "unit"},
        "supportedSizes": [{"width": 32, "height": 32}],
        "quality": [export.quality("clip_score_matched", matched, 1000, setting),
                    export.quality("clip_score_shuffled_captions", mismatched, 1000, setting),
                    export.quality("caption_retrieval_top1", top1, 1000, setting + ", among all 168 captions")],
        "goldens": [gi, gt],
        "training": {
            "command": f"cd models/train && flock /tmp/genloom-cpu.lock /usr/bin/python3 -m genloom_models.train_clip --seconds {a.seconds:g}",
            "seed": str(a.seed),
            "training_time_s": f"{train_s:.0f}",
            "steps": str(step),
            "batch_size": str(a.batch),
            "loss": "symmetric InfoNCE with a learned temperature; images sharing a caption are all positives",
            "data": "procedural 32x32 shapes (genloom_models/data.py make_batch, split train)",
        },
    }
    export.write_manifest(os.path.join(PKG, "manifest.json"), manifest)
    print(f"wrote {PKG} ({export.package_size(PKG)} bytes), steps {step}, train {train_s:.0f}s", flush=True)


if __name__ == "__main__":
    main()
