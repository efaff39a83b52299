"""Score generated images with the shapes-features classifier.

  clf = load_features()                        # TorchScript models/shapes-features/features.pt
  r = attribute_scores(clf, pixels01, shape, fg, bg)   # pixels in [0,1], [N,3,32,32]
      -> {"shape_acc", "fg_acc", "bg_acc", "all_correct"}
  f = extract_features(clf, pixels01)          # [N, 128]
  fd = frechet_distance(f1, f2)                # float64, eigh-based sqrtm (as pytorch-fid, symmetric form)
"""
import os

import torch

MODELS_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_FEATURES = os.path.join(MODELS_DIR, "shapes-features", "features.pt")


def load_features(path=DEFAULT_FEATURES):
    return torch.jit.load(path).eval()


@torch.no_grad()
def run_features(clf, pixels01, batch=500):
    outs = [clf(pixels01[i:i + batch].float()) for i in range(0, len(pixels01), batch)]
    return tuple(torch.cat([o[k] for o in outs]) for k in range(4))  # features, shape, fg, bg logits


def extract_features(clf, pixels01, batch=500):
    return run_features(clf, pixels01, batch)[0]


@torch.no_grad()
def attribute_scores(clf, pixels01, shape, fg, bg, batch=500):
    _, ls, lf, lb = run_features(clf, pixels01, batch)
    cs, cf, cb = ls.argmax(1) == shape, lf.argmax(1) == fg, lb.argmax(1) == bg
    return {"shape_acc": cs.float().mean().item(), "fg_acc": cf.float().mean().item(),
            "bg_acc": cb.float().mean().item(), "all_correct": (cs & cf & cb).float().mean().item(),
            "n": int(len(shape))}


def _sqrtm_psd(m):
    w, v = torch.linalg.eigh(m)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def gaussian_stats(f):
    f = f.double()
    mu = f.mean(0)
    x = f - mu
    return mu, x.T @ x / (f.shape[0] - 1)  # ddof = 1 like np.cov


def frechet_from_stats(mu1, s1, mu2, s2):
    """|mu1-mu2|^2 + tr s1 + tr s2 - 2 tr sqrt(sqrt(s1) s2 sqrt(s1)) (robust symmetric form)."""
    mu1, s1, mu2, s2 = (t.double() for t in (mu1, s1, mu2, s2))
    r1 = _sqrtm_psd(s1)
    mid = r1 @ s2 @ r1
    mid = (mid + mid.T) / 2
    tr_cov = torch.linalg.eigvalsh(mid).clamp(min=0).sqrt().sum()
    return float(((mu1 - mu2) ** 2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * tr_cov)


def frechet_distance(f1, f2):
    m1, s1 = gaussian_stats(f1)
    m2, s2 = gaussian_stats(f2)
    return frechet_from_stats(m1, s1, m2, s2)


if __name__ == "__main__":  # self-test against closed-form vectors
    d = torch.tensor
    print(frechet_from_stats(d([0., 0, 0]), torch.diag(d([1., 4, 9])), d([1., 2, 3]), torch.diag(d([4., 1, 16]))), "expect 17.0")
    print(frechet_from_stats(d([0., 0]), d([[2., 1], [1, 2]]), d([1., 1]), torch.diag(d([1., 4]))), "expect 2.7712204476543416")
