"""Glue between the AR / DiT training code and the shared modules (data, tokenizer, export, evaluate)."""
import os

import torch

from genloom_models import data as D
from genloom_models import export as E
from genloom_models import tokenizer as TK

TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.dirname(TRAIN_DIR)
CKPT = os.path.join(TRAIN_DIR, "checkpoints")
MAX_LEN = 12  # longest caption ("a red circle moving left on a blue background") is 11 ids

sha256 = E.sha256_file


def command(module):
    """The command line that ran this training script, for the manifest's `training.command`."""
    import shlex
    import sys
    return " ".join(["/usr/bin/python3", "-m", f"genloom_models.{module}"] + [shlex.quote(x) for x in sys.argv[1:]])


def np_rng(seed):
    """A seeded torch.Generator (data.py draws everything from one)."""
    return torch.Generator().manual_seed(seed)


def image_batch(g, n, split="train"):
    """-> pixels [n,3,32,32] in [-1,1], captions."""
    b = D.make_batch(n, g, split)
    return D.to_symmetric(b["pixels"]), b["captions"]


def tokenizer():
    return TK.get_tokenizer(MAX_LEN)


def text_vocab(tok):
    return len(tok)


def encode_prompts(tok, prompts):
    return tok.encode_batch(list(prompts))


def write_tokenizer(tok, path):
    tok.save(path)


def tokenizer_spec(tok):
    return tok.spec()


def training_info(d):
    d = dict(d)
    d.setdefault("data", "procedural shapes zoo (genloom_models.data): one shape (circle/square/triangle) "
                         "of one of 8 colours on a background of another colour, 32x32, colour jitter +-10")
    d.setdefault("heldout_combinations", "; ".join(f"{s} {f} on {b}" for s, f, b in D.HELDOUT))
    return {k: str(v) for k, v in d.items()}


def load_vq(path=None):
    path = path or os.environ.get("GENLOOM_VQ")
    from genloom_models.vq import LatentVQ
    from genloom_models.train_latent_vq import eager_decoder
    path = path or os.path.join(CKPT, "vq.pt")
    ck = torch.load(path)
    if ck.get("kind") != "latent":
        raise ValueError(f"{path}: not a latent VQ checkpoint (train it with genloom_models.train_latent_vq)")
    enc, _, _ = load_vae()
    return LatentVQ(enc, eager_decoder(ck["decoder_state"]), ck["codebook"]).eval()


def load_vq_meta():
    ck = torch.load(os.environ.get("GENLOOM_VQ") or os.path.join(CKPT, "vq.pt"))
    return {k: ck.get(k, {}) for k in ("seconds", "steps", "seed", "codebook_size", "arch", "command",
                                       "kmeans", "round_trip")}


@torch.no_grad()
def code_dataset(g, vq, tok, n, chunk=1000):
    ids, codes = [], []
    for i in range(0, n, chunk):
        x, caps = image_batch(g, min(chunk, n - i))
        ids.append(encode_prompts(tok, caps))
        codes.append(vq.encode(x))
    return torch.cat(ids), torch.cat(codes)


def golden_prompts(prompts):
    return prompts


def eval_prompts(split, n, g):
    """n captions of `split` combinations, cycling through all combinations evenly."""
    c = D.combos(split)
    perm = torch.randperm(len(c), generator=g)
    reps = [c[perm[i % len(c)]] for i in range(n)]
    return [D.caption(int(s), int(f), int(b)) for s, f, b in reps]


# ------------------------------------------------------------------ evaluation glue
_CLF = None


def classifier():
    global _CLF
    if _CLF is None:
        from genloom_models import evaluate
        _CLF = evaluate.load_features()
    return _CLF


def parse_caption(c):
    """-> (shape, fg, bg, direction or -1) indices from a data.py caption."""
    w = c.split()
    d = D.DIRECTIONS.index(w[4]) if "moving" in w else -1
    return D.SHAPES.index(w[2]), D.COLORS.index(w[1]), D.COLORS.index(w[-2]), d


def labels(captions):
    lab = torch.tensor([parse_caption(c) for c in captions])
    return lab[:, 0], lab[:, 1], lab[:, 2], lab[:, 3]


@torch.no_grad()
def score(pix, captions):
    """pix [-1,1] [N,3,32,32] -> fractions all/shape/fg/bg/colors correct (shapes-features)."""
    from genloom_models import evaluate
    _, ls, lf, lb = evaluate.run_features(classifier(), D.to_unit(pix))
    s, f, b, _ = labels(captions)
    cs, cf, cb = ls.argmax(1) == s, lf.argmax(1) == f, lb.argmax(1) == b
    m = lambda t: t.float().mean().item()
    return {"all": m(cs & cf & cb), "shape": m(cs), "fg": m(cf), "bg": m(cb), "colors": m(cf & cb)}


@torch.no_grad()
def frechet(pix_a, pix_b):
    from genloom_models import evaluate
    fa = evaluate.extract_features(classifier(), D.to_unit(pix_a))
    fb = evaluate.extract_features(classifier(), D.to_unit(pix_b))
    return evaluate.frechet_distance(fa, fb)


# ------------------------------------------------------------------ video glue (layout [N,3,F,32,32])
VAE_PKG = os.path.join(MODELS_DIR, "tiny-ldm")


class _VaeEncoder(torch.nn.Module):
    """pixels [-1,3,32,32] in [-1,1] -> latent [-1,4,8,8] (unscaled)."""

    def __init__(self, ae):
        super().__init__()
        self.ae = ae

    def forward(self, pixels):
        return self.ae.encode(pixels)


class _VaeDecoder(torch.nn.Module):
    """latent [-1,4,8,8] (already divided by scale_factor) -> pixels [-1,3,32,32]."""

    def __init__(self, ae):
        super().__init__()
        self.ae = ae

    def forward(self, latent):
        return self.ae.decode(latent)


def load_vae(pkg=VAE_PKG):
    """-> (vae_encoder, vae_decoder, scale_factor) of the frozen autoencoder shared with tiny-ldm.

    Loaded from the TorchScript components shipped in models/tiny-ldm (vae_encoder.pt: pixels
    [-1,3,32,32] in [-1,1] -> unscaled latent [-1,4,8,8]; vae_decoder.pt: the inverse) and the
    scale_factor in its manifest, so the training checkpoint is not needed. `src_path` on each module
    lets export_dit copy the file unchanged. GENLOOM_AE=<checkpoints/autoencoder.pt> uses the
    eager checkpoint instead.
    """
    if os.environ.get("GENLOOM_AE"):
        from genloom_models.autoencoder import load_autoencoder
        ae, scale = load_autoencoder(os.environ["GENLOOM_AE"])
        return _VaeEncoder(ae).eval(), _VaeDecoder(ae).eval(), scale
    import json
    with open(os.path.join(pkg, "manifest.json")) as f:
        scale = float(json.load(f)["latent"]["scaleFactor"])
    mods = []
    for name in ("vae_encoder", "vae_decoder"):
        path = os.path.join(pkg, name + ".pt")
        mod = torch.jit.load(path).eval()
        mod.src_path = path
        mods.append(mod)
    return mods[0], mods[1], scale


def video_batch(g, n, split="train", speed=(1.5, 2.5)):
    b = D.make_video_batch(n, g, split, speed=speed)
    return D.to_symmetric(b["pixels"]), b["captions"]


@torch.no_grad()
def encode_video(enc, scale, vids):
    n, c, F, H, W = vids.shape
    z = enc(vids.permute(0, 2, 1, 3, 4).reshape(n * F, c, H, W)) * scale
    return z.view(n, F, *z.shape[1:]).permute(0, 2, 1, 3, 4).contiguous()


@torch.no_grad()
def decode_video(dec, scale, z):
    n, c, F, h, w = z.shape
    x = dec(z.permute(0, 2, 1, 3, 4).reshape(n * F, c, h, w) / scale)
    return x.view(n, F, *x.shape[1:]).permute(0, 2, 1, 3, 4).contiguous()


@torch.no_grad()
def video_latent_dataset(g, enc, scale, tok, n, chunk=500, speed=(1.5, 2.5)):
    ids, lat = [], []
    for i in range(0, n, chunk):
        v, caps = video_batch(g, min(chunk, n - i), speed=speed)
        ids.append(encode_prompts(tok, caps))
        lat.append(encode_video(enc, scale, v))
    return torch.cat(ids), torch.cat(lat)


def golden_video_prompts():
    return ["a red circle moving right on a blue background"]


def eval_video_prompts(split, n, g):
    return video_batch(g, n, split)


def centroids(pix):
    """pix [N,3,F,32,32] in [-1,1] -> centroid (x, y) [N,F,2] of pixels far from the background
    colour (median of the frame's border pixels)."""
    x = D.to_unit(pix)
    N, _, F, H, W = x.shape
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)  # N,3,F,4W
    bgc = border.median(-1).values[..., None, None]
    far = ((x - bgc).abs().amax(1) > 0.25).float()  # N,F,H,W
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32),
                            indexing="ij")
    m = far.sum((-1, -2)).clamp(min=1)
    return torch.stack([(far * xx).sum((-1, -2)) / m, (far * yy).sum((-1, -2)) / m], -1)


@torch.no_grad()
def score_video(pix, captions, ref_frames=None):
    """Per-frame classifier, frame probabilities averaged; motion from first vs last frame centroid."""
    from genloom_models import evaluate
    N, _, F, H, W = pix.shape
    frames = D.to_unit(pix.permute(0, 2, 1, 3, 4).reshape(N * F, 3, H, W))
    _, ls, lf, lb = evaluate.run_features(classifier(), frames)
    avg = lambda l: l.softmax(-1).view(N, F, -1).mean(1).argmax(-1)
    ps, pf, pb = avg(ls), avg(lf), avg(lb)
    s, f, b, d = labels(captions)
    cs, cf, cb = ps == s, pf == f, pb == b
    c = centroids(pix)
    delta = c[:, -1] - c[:, 0]  # (dx, dy)
    want = torch.tensor([[-1.0, 0], [1, 0], [0, -1], [0, 1]])[d]
    along = (delta * want).sum(-1)
    moved = along >= 1.0
    m = lambda t: t.float().mean().item()
    out = {"colors": m(cf & cb), "fg": m(cf), "bg": m(cb), "shape": m(cs), "all": m(cs & cf & cb),
           "motion": m(moved), "all_and_motion": m(cs & cf & cb & moved)}
    return out
