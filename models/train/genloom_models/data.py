"""Procedural "shapes zoo" data: one shape of one colour on a solid background of another colour.

Images are 32x32 RGB.  Everything is generated in batches with torch from an explicit
torch.Generator, so a seed fully determines a batch.

Label order (fixed, shared with the features model and the manifests):
  shapes  : circle, square, triangle
  colours : red, green, blue, yellow, white, black, purple, orange
  directions (video): left, right, up, down

Combinations: (shape, fg, bg) with fg != bg -> 3 * 8 * 7 = 168.  HELDOUT_COMBOS (10 of them) are
never used for training the generative models; every shape and every colour (as fg and as bg)
still appears in the training combinations.

Public API
  make_batch(n, generator, split="train") -> dict(pixels [n,3,32,32] float32 in [0,1],
        shape, fg, bg int64 [n], captions list[str])
  make_video_batch(n, generator, split="train", frames=8) -> dict(pixels [n,3,F,32,32] in [0,1],
        shape, fg, bg, direction int64 [n], captions list[str])
  caption(shape, fg, bg) / video_caption(shape, fg, bg, direction)
  to_symmetric(x) ([0,1] -> [-1,1]), to_unit(x) ([-1,1] -> [0,1])
"""
import torch

SHAPES = ["circle", "square", "triangle"]
COLORS = ["red", "green", "blue", "yellow", "white", "black", "purple", "orange"]
DIRECTIONS = ["left", "right", "up", "down"]
COLOR_RGB = {
    "red": (230, 25, 25), "green": (30, 180, 40), "blue": (30, 60, 220), "yellow": (240, 220, 30),
    "white": (245, 245, 245), "black": (15, 15, 15), "purple": (140, 40, 170), "orange": (245, 130, 20),
}
JITTER = 10  # uniform integer jitter per channel, at most +-10
SIZE = 32

# Fixed held-out (shape, fg, bg) combinations, excluded from generative-model training.
HELDOUT = [
    ("circle", "red", "blue"),
    ("circle", "yellow", "black"),
    ("circle", "white", "purple"),
    ("square", "green", "orange"),
    ("square", "purple", "white"),
    ("square", "black", "red"),
    ("triangle", "blue", "yellow"),
    ("triangle", "orange", "green"),
    ("triangle", "red", "white"),
    ("triangle", "black", "purple"),
]


def _idx(s, f, b):
    return (SHAPES.index(s), COLORS.index(f), COLORS.index(b))


ALL_COMBOS = [(s, f, b) for s in range(3) for f in range(8) for b in range(8) if f != b]
HELDOUT_COMBOS = [_idx(*c) for c in HELDOUT]
TRAIN_COMBOS = [c for c in ALL_COMBOS if c not in HELDOUT_COMBOS]
assert len(ALL_COMBOS) == 168 and len(TRAIN_COMBOS) == 158
_RGB = torch.tensor([COLOR_RGB[c] for c in COLORS], dtype=torch.float32)  # [8,3]


def combos(split):
    """split: "train" | "heldout" | "all" -> LongTensor [K,3] of (shape, fg, bg)."""
    return torch.tensor({"train": TRAIN_COMBOS, "heldout": HELDOUT_COMBOS, "all": ALL_COMBOS}[split])


def caption(shape, fg, bg):
    return f"a {COLORS[fg]} {SHAPES[shape]} on a {COLORS[bg]} background"


def video_caption(shape, fg, bg, direction):
    return f"a {COLORS[fg]} {SHAPES[shape]} moving {DIRECTIONS[direction]} on a {COLORS[bg]} background"


def to_symmetric(x):
    return x * 2.0 - 1.0


def to_unit(x):
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


def _sample_labels(n, g, split):
    c = combos(split)
    pick = torch.randint(0, len(c), (n,), generator=g)
    lab = c[pick]
    return lab[:, 0].clone(), lab[:, 1].clone(), lab[:, 2].clone()


def _colors(idx, g):
    jit = torch.randint(-JITTER, JITTER + 1, (len(idx), 3), generator=g).float()
    return ((_RGB[idx] + jit).clamp(0, 255) / 255.0)  # [n,3]


_SS = 2  # supersampling factor (anti-aliased edges)


def _grid():
    c = (torch.arange(SIZE * _SS, dtype=torch.float32) + 0.5) / _SS  # pixel-centre coordinates
    return c.view(1, 1, -1), c.view(1, -1, 1)  # xx [1,1,W], yy [1,H,1]


def _masks(shape, cx, cy, r):
    """shape [n], cx/cy/r [n] (pixels) -> coverage [n,32,32] in [0,1]. Batched over n (and frames
    when cx/cy are flattened)."""
    xx, yy = _grid()
    cx, cy, r = cx.view(-1, 1, 1), cy.view(-1, 1, 1), r.view(-1, 1, 1)
    dx, dy = xx - cx, yy - cy
    circle = dx * dx + dy * dy <= r * r
    h = r * 0.85  # square half-side
    square = (dx.abs() <= h) & (dy.abs() <= h)
    # upward-pointing isosceles triangle: apex at (cx, cy - r), base at y = cy + 0.8 r, half-width r
    top, base = cy - r, cy + 0.8 * r
    frac = ((yy - top) / (base - top)).clamp(min=0)
    triangle = (yy >= top) & (yy <= base) & (dx.abs() <= frac * r)
    s = shape.view(-1, 1, 1)
    m = torch.where(s == 0, circle, torch.where(s == 1, square, triangle)).float()
    return torch.nn.functional.avg_pool2d(m.unsqueeze(1), _SS).squeeze(1)


def _compose(mask, fgc, bgc):
    # mask [n,H,W], fgc/bgc [n,3] -> [n,3,H,W]
    m = mask.unsqueeze(1)
    return m * fgc.view(-1, 3, 1, 1) + (1 - m) * bgc.view(-1, 3, 1, 1)


def _uniform(n, lo, hi, g):
    return lo + (hi - lo) * torch.rand(n, generator=g)


def make_batch(n, generator=None, split="train"):
    """n images of split "train" | "heldout" | "all" combinations. pixels in [0,1]."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    shape, fg, bg = _sample_labels(n, g, split)
    fgc, bgc = _colors(fg, g), _colors(bg, g)
    r = _uniform(n, 5.0, 11.0, g)
    cx = r + (SIZE - 2 * r) * torch.rand(n, generator=g)
    cy = r + (SIZE - 2 * r) * torch.rand(n, generator=g)
    pix = _compose(_masks(shape, cx, cy, r), fgc, bgc)
    caps = [caption(int(s), int(f), int(b)) for s, f, b in zip(shape, fg, bg)]
    return {"pixels": pix, "shape": shape, "fg": fg, "bg": bg, "captions": caps}


def make_video_batch(n, generator=None, split="train", frames=8, speed=(1.5, 2.5)):
    """n clips of `frames` frames; the shape moves steadily (constant velocity, 1.5-2.5 px/frame)
    left/right/up/down and stays fully inside the frame.  pixels [n,3,F,32,32] in [0,1]."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    shape, fg, bg = _sample_labels(n, g, split)
    direction = torch.randint(0, 4, (n,), generator=g)
    fgc, bgc = _colors(fg, g), _colors(bg, g)
    r = _uniform(n, 4.0, 7.0, g)
    speed = _uniform(n, speed[0], speed[1], g)
    travel = speed * (frames - 1)
    # moving coordinate: start so that start..start+-travel stays in [r, 32-r]
    lo, span = r, (SIZE - 2 * r - travel).clamp(min=0)
    start = lo + span * torch.rand(n, generator=g)  # leftmost/topmost extent of the path
    other = r + (SIZE - 2 * r) * torch.rand(n, generator=g)
    t = torch.arange(frames, dtype=torch.float32).view(1, -1)
    sign = torch.tensor([-1.0, 1.0, -1.0, 1.0])[direction].view(-1, 1)  # left/up decrease
    first = torch.where(sign > 0, start.view(-1, 1), (start + travel).view(-1, 1))
    moving = first + sign * speed.view(-1, 1) * t  # [n,F]
    horiz = (direction < 2).view(-1, 1)
    cx = torch.where(horiz, moving, other.view(-1, 1).expand(-1, frames))
    cy = torch.where(horiz, other.view(-1, 1).expand(-1, frames), moving)
    rep = lambda v: v.view(-1, 1).expand(-1, frames).reshape(-1)
    m = _masks(rep(shape), cx.reshape(-1), cy.reshape(-1), rep(r))  # [n*F,H,W]
    pix = _compose(m, fgc.repeat_interleave(frames, 0), bgc.repeat_interleave(frames, 0))
    pix = pix.view(n, frames, 3, SIZE, SIZE).permute(0, 2, 1, 3, 4).contiguous()
    caps = [video_caption(int(s), int(f), int(b), int(d)) for s, f, b, d in zip(shape, fg, bg, direction)]
    return {"pixels": pix, "shape": shape, "fg": fg, "bg": bg, "direction": direction, "captions": caps}
