"""Real-image reference statistics for shapes-feature Fréchet distances.

Renders N real training-distribution images (fixed seed), runs the exported shapes-features
TorchScript on them, and writes pytorch-fid-format statistics (float64 `mu`, `sigma` with ddof=1)
to models/shapes-features/reference_stats.npz, plus the per-image features (float32 `features`
[N, d], which KID needs; pytorch-fid readers ignore the extra array), plus a few real PNGs for
tests and examples.

Run: cd models/train && /usr/bin/python3 -m genloom_models.reference_stats
"""
import argparse
import os

import numpy as np
import torch

from . import data

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--pngs", type=int, default=48)
    a = p.parse_args()
    torch.set_num_threads(2)
    net = torch.jit.load(os.path.join(ROOT, "shapes-features", "features.pt"))
    g = torch.Generator().manual_seed(a.seed)
    batch = data.make_batch(a.n, generator=g, split="train")
    with torch.no_grad():
        unit = batch["pixels"]
        feats = torch.cat([net(unit[i:i + 250])[0] for i in range(0, a.n, 250)]).double().numpy()
    mu = feats.mean(0)
    sigma = np.cov(feats, rowvar=False)
    out = os.path.join(ROOT, "shapes-features", "reference_stats.npz")
    np.savez(out, mu=mu, sigma=sigma, features=feats.astype(np.float32))
    print(f"wrote {out}: {a.n} real images, {feats.shape[1]}-d features, seed {a.seed}")
    if a.pngs:
        from PIL import Image
        folder = os.path.join(ROOT, "..", "examples", "real-shapes")
        os.makedirs(folder, exist_ok=True)
        pix = (unit[: a.pngs].clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
        for i in range(a.pngs):
            Image.fromarray(pix[i]).save(os.path.join(folder, f"real_{i:03d}.png"))
        with open(os.path.join(folder, "captions.txt"), "w") as f:
            for i in range(a.pngs):
                f.write(f"real_{i:03d}.png\t{batch['captions'][i]}\n")
        print(f"wrote {a.pngs} PNGs to {os.path.normpath(folder)}")


if __name__ == "__main__":
    main()
