"""Diagnostics for the video DiT's text-to-video motion (figures quoted in README.md).

  /usr/bin/python3 -m genloom_models.diagnose_dit --ckpt checkpoints/dit.pt [--corr 0.7]

Prints, for one checkpoint:
  sample     text-to-video on 100 training-distribution prompts (Euler 25, linear-quadratic,
             guidance 4): colours, shape, motion, and the median over videos of the largest
             frame-to-frame centroid jump (real videos: 1.5-2.5 px);
  swap       image-to-video from 60 real first frames, once with the true caption and once with the
             direction word swapped: motion scored against the prompt and against the real video;
  marginals  the one-step clean-video prediction at noise level 0.9 for one prompt and the four
             directions (64 noise draws): the per-frame x centroid of the mean frame.
"""
import argparse

import torch

from genloom_models import ar_common as C
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
    a = ap.parse_args()
    torch.set_num_threads(2)
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


if __name__ == "__main__":
    main()
