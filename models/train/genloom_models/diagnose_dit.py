"""Diagnostics for the video DiT's text-to-video motion (figures quoted in README.md).

  /usr/bin/python3 -m genloom_models.diagnose_dit --ckpt checkpoints/dit.pt [--corr 0.7]

Prints, for one checkpoint:
  sample     text-to-video on 100 training-distribution prompts (Euler 25, linear-quadratic,
             guidance 4): colours, shape, motion, and the median over videos of the largest
             frame-to-frame centroid jump (real videos: 1.5-2.5 px);
  swap       image-to-video from 60 real first frames, once with the true caption and once with the
             direction word swapped: motion scored against the prompt and against the real video;
  marginals  the one-step clean-video prediction at noise level 0.9 for one prompt and the four
             directions (64 noise draws): the per-frame x centroid of the mean frame;
  gap        the flow-matching loss on 128 real videos with the direction word swapped minus with
             the true caption (same noise), at noise levels 0.6 / 0.9 / 0.97: how much the model
             uses the word (0 = not at all).
With --oracle it also prints what the word is worth at pure noise: the held-out error of the
per-(colours, direction) mean latent video against the per-colours mean and against the mean of the
swapped direction (means over 20,000 training videos, scored on 500 fresh ones); it needs no checkpoint.
"""
import argparse

import torch

from genloom_models import ar_common as C
from genloom_models import data as D
from genloom_models import samplers as S
from genloom_models.dit import VideoDiT, first_frame_cond, frame_noise

SWAP = {"left": "right", "right": "left", "up": "down", "down": "up"}


def swap_direction(prompt):
    w = prompt.split()
    i = w.index("moving")
    w[i + 1] = SWAP[w[i + 1]]
    return " ".join(w)


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="checkpoints/dit.pt")
    ap.add_argument("--corr", type=float, default=None, help="initial-noise correlation (default: the checkpoint's)")
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--oracle", action="store_true", help="also print what the direction word is worth")
    a = ap.parse_args()
    torch.set_num_threads(2)
    if a.oracle:
        oracle()
    ck = torch.load(a.ckpt)
    corr = ck.get("frame_noise_corr", 0.0) if a.corr is None else a.corr
    tok = C.tokenizer()
    enc, dec, scale = C.load_vae()
    m = VideoDiT(C.text_vocab(tok), C.MAX_LEN, frames=ck["frames"], **ck["cfg"])
    m.load_state_dict(ck["state"])
    m.eval()

    def sample(prompts, cl, cm, seed):
        n = len(prompts)
        e = m.text_encoder(C.encode_prompts(tok, prompts))
        ue = m.text_encoder(C.encode_prompts(tok, [""] * n))
        n0 = frame_noise((n, 4, ck["frames"], 8, 8), corr, torch.Generator().manual_seed(seed))
        fn = S.cfg_velocity_fn(lambda x, t, ctx, cl, cm: m.denoise(x, t, ctx, cl, cm), e, ue,
                               a.guidance, 1000.0, cl=cl, cm=cm)
        return C.decode_video(dec, scale, S.flow_euler_sample(fn, n0, 25, "linear_quadratic"))

    _, prompts = C.eval_video_prompts("train", 100, C.np_rng(555))
    zero = torch.zeros(100, 4, ck["frames"], 8, 8)
    pix = sample(prompts, zero, zero[:, :1], 1)
    sc = C.score_video(pix, prompts)
    c = C.centroids(pix)
    jump = (c[:, 1:] - c[:, :-1]).norm(dim=-1).max(1).values.median().item()
    print("sample", {k: round(v, 3) for k, v in sc.items()}, "median largest jump", round(jump, 2), flush=True)

    vids, prompts = C.eval_video_prompts("train", 60, C.np_rng(555))
    z = C.encode_video(enc, scale, vids)
    cl, cm = first_frame_cond(z, torch.ones(60, dtype=torch.bool))
    for name, ps in [("true caption", prompts), ("direction swapped", [swap_direction(p) for p in prompts])]:
        pix = sample(ps, cl, cm, 3)
        print("swap", name, "motion vs prompt", round(C.score_video(pix, ps)["motion"], 3),
              "motion vs real video", round(C.score_video(pix, prompts)["motion"], 3), flush=True)

    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    for d in ["right", "left", "up", "down"]:
        e = m.text_encoder(C.encode_prompts(tok, [f"a white square moving {d} on a black background"] * 64))
        n = frame_noise((64, 4, ck["frames"], 8, 8), corr, torch.Generator().manual_seed(0))
        v = m.denoise(n, torch.full((64,), 900.0), e, torch.zeros_like(n), torch.zeros(64, 1, ck["frames"], 8, 8))
        b = (C.decode_video(dec, scale, n - 0.9 * v).mean(0).mean(0) + 1) / 2  # F,32,32
        cx = (b * xx).sum((-1, -2)) / b.sum((-1, -2))
        print("marginals", d, "x centroid per frame", [round(x, 1) for x in cx.tolist()], flush=True)

    v, caps = C.video_batch(C.np_rng(777), 128)
    z = C.encode_video(enc, scale, v)
    ids = C.encode_prompts(tok, caps)
    swapped = C.encode_prompts(tok, [swap_direction(p) for p in caps])
    zero = torch.zeros_like(z)
    gaps = []
    for s in (0.6, 0.9, 0.97):
        eps = frame_noise(z.shape, corr, torch.Generator().manual_seed(0))
        xs = (1 - s) * z + s * eps
        t = torch.full((128,), s * 1000.0)
        loss = [(m(xs, t, i, zero, zero[:, :1]) - (eps - z)).pow(2).mean().item() for i in (ids, swapped)]
        gaps.append(f"sigma {s}: loss {loss[0]:.4f}, swapped {loss[1] - loss[0]:+.4f}")
    print("gap", " | ".join(gaps), flush=True)


@torch.no_grad()
def oracle():
    """Held-out error of per-(fg, bg, direction) mean latent videos (the best prediction from noise)."""
    enc, _, scale = C.load_vae()
    sums, counts = {}, {}
    for i in range(8):
        b = D.make_video_batch(2500, torch.Generator().manual_seed(10 + i))
        z = C.encode_video(enc, scale, D.to_symmetric(b["pixels"]))
        for j, k in enumerate(((b["fg"] * 8 + b["bg"]) * 4 + b["direction"]).tolist()):
            sums[k] = sums.get(k, 0) + z[j]
            counts[k] = counts.get(k, 0) + 1
    mean = {k: sums[k] / counts[k] for k in sums}
    t = D.make_video_batch(500, torch.Generator().manual_seed(99))
    zt = C.encode_video(enc, scale, D.to_symmetric(t["pixels"]))
    colours = ((t["fg"] * 8 + t["bg"]) * 4).tolist()
    err = torch.zeros(3)
    for i, (k, d) in enumerate(zip(colours, t["direction"].tolist())):
        by_colour = sum(mean[k + j] for j in range(4)) / 4
        err += torch.tensor([((zt[i] - p) ** 2).mean().item()
                             for p in (mean[k + d], by_colour, mean[k + [1, 0, 3, 2][d]])])
    err /= len(colours)
    print(f"oracle per-element error from pure noise: colours + direction {err[0]:.4f}, colours only "
          f"{err[1]:.4f}, swapped direction {err[2]:.4f}", flush=True)


if __name__ == "__main__":
    main()
