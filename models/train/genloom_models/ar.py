"""Llama-style AR transformer over text ids + [BOI] + VQ codes, with optional Token-Shuffle.

Token-Shuffle (Ma et al. 2025): each code embedding is compressed by an MLP
d -> d/s^2, each s x s window is concatenated back to d and passed through residual MLP blocks, so
the transformer sees (8/s)^2 image positions. After the transformer, residual MLPs and s^2 expand
MLPs d/s^2 -> d unshuffle each position back into s^2 tokens, each predicting its code (the s^2
expand MLPs are separate weights computed as one grouped matmul per layer).

Sequence layout (T = max_length + 1 prefix positions):
  positions 0..L-1  padded text ids, position L = [BOI]
  position T + i    the codes of image position i (i = 0 .. N-2), as decode input
Logits at position T - 1 + i predict image position i.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(pos, head_dim, base=10000.0):
    """pos float [T] -> cos, sin [T, head_dim/2]."""
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    ang = pos[:, None] * inv[None, :]
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    # x [B,H,T,hd], rotate pairs (first half, second half) as in Llama (HF rotate_half)
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Block(nn.Module):
    def __init__(self, d, heads, mlp_mult=3):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        hidden = mlp_mult * d
        self.w12 = nn.Linear(d, 2 * hidden, bias=False)
        self.w3 = nn.Linear(hidden, d, bias=False)

    def forward(self, x, cos, sin, mask, k_past=None, v_past=None):
        B, T, D = x.shape
        q, k, v = self.qkv(self.n1(x)).view(B, T, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if k_past is not None:
            k = torch.cat([k_past, k], dim=2)
            v = torch.cat([v_past, v], dim=2)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        if mask is not None:
            att = att.masked_fill(~mask, float("-inf"))
        y = att.softmax(-1) @ v
        x = x + self.o(y.transpose(1, 2).reshape(B, T, D))
        a, b = self.w12(self.n2(x)).chunk(2, dim=-1)
        x = x + self.w3(F.silu(a) * b)
        return x, k, v


class ResMLP(nn.Module):
    """Residual MLP block of the shuffle / unshuffle stages. LayerNorm (one fused op) rather than
    RMSNorm keeps the per-step op count of a batch-1 decode low; the transformer keeps RMSNorm."""

    def __init__(self, d):
        super().__init__()
        self.n = nn.LayerNorm(d)
        self.f1, self.f2 = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        return x + self.f2(F.gelu(self.f1(self.n(x))))


class GroupedMLP(nn.Module):
    """`groups` independent two-layer MLPs d_in -> d -> d, one per token of a window, computed
    together: x [B,P,groups,d_in] -> [B,P,groups,d] with one batched matmul per layer."""

    def __init__(self, groups, d_in, d):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(groups, d_in, d).uniform_(-1, 1) / math.sqrt(d_in))
        self.b1 = nn.Parameter(torch.zeros(groups, d))
        self.w2 = nn.Parameter(torch.empty(groups, d, d).uniform_(-1, 1) / math.sqrt(d))
        self.b2 = nn.Parameter(torch.zeros(groups, d))

    def forward(self, x):
        h = F.gelu(torch.einsum("bpgi,gio->bpgo", x, self.w1) + self.b1)
        return torch.einsum("bpgi,gio->bpgo", h, self.w2) + self.b2


class ARModel(nn.Module):
    def __init__(self, text_vocab, codebook, d=128, layers=4, heads=4, shuffle=1, grid=8,
                 text_len=12, n_res=2):
        super().__init__()
        self.text_vocab, self.K, self.d, self.s, self.grid = text_vocab, codebook, d, shuffle, grid
        self.layers, self.heads, self.hd = layers, heads, d // heads
        self.text_len = text_len
        self.boi_id = text_vocab + codebook
        self.eoi_id = text_vocab + codebook + 1
        self.N = (grid // shuffle) ** 2
        self.T = text_len + 1
        self.text_emb = nn.Embedding(text_vocab + 2, d)  # text ids, then BOI, EOI at the end
        self.code_emb = nn.Embedding(codebook, d)
        ss = shuffle * shuffle
        if shuffle > 1:
            self.compress = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d // ss))
            self.shuf_res = nn.Sequential(*[ResMLP(d) for _ in range(n_res)])
            self.unshuf_res = nn.Sequential(*[ResMLP(d) for _ in range(n_res)])
            self.expand = GroupedMLP(ss, d // ss, d)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, codebook, bias=False)

    # -- embeddings ------------------------------------------------------------------------
    def embed_prefix(self, ids):
        # ids in joint vocabulary: text ids < text_vocab, BOI = text_vocab + K
        ids = torch.where(ids >= self.text_vocab, ids - self.K, ids)
        return self.text_emb(ids)

    def embed_codes(self, win_codes):
        """win_codes [B, P, s*s] (row-major inside the window) -> [B, P, d]."""
        e = self.code_emb(win_codes)  # B,P,ss,d
        if self.s == 1:
            return e[:, :, 0]
        c = self.compress(e)  # B,P,ss,d/ss
        B, P = win_codes.shape[0], win_codes.shape[1]
        return self.shuf_res(c.reshape(B, P, self.d))

    def logits_from_hidden(self, h):
        """h [B,P,d] -> logits [B,P,s*s,K]."""
        h = self.norm(h)
        if self.s == 1:
            return self.head(h).unsqueeze(2)
        h = self.unshuf_res(h)
        B, P = h.shape[0], h.shape[1]
        ss = self.s * self.s
        return self.head(self.expand(h.reshape(B, P, ss, self.d // ss)))

    # -- layouts ---------------------------------------------------------------------------
    def to_windows(self, codes):
        """codes [B,8,8] -> [B, N, s*s] windows in row-major order."""
        B, s, g = codes.shape[0], self.s, self.grid
        w = codes.view(B, g // s, s, g // s, s).permute(0, 1, 3, 2, 4)
        return w.reshape(B, self.N, s * s)

    def from_windows(self, win):
        B, s, g = win.shape[0], self.s, self.grid
        w = win.view(B, g // s, g // s, s, s).permute(0, 1, 3, 2, 4)
        return w.reshape(B, g, g)

    # -- full sequence (training) ------------------------------------------------------------
    def forward(self, prefix_ids, codes):
        """prefix_ids [B,T] (text + BOI), codes [B,8,8] -> logits [B, N, s*s, K] (teacher forcing)."""
        win = self.to_windows(codes)
        x = torch.cat([self.embed_prefix(prefix_ids), self.embed_codes(win[:, :-1])], dim=1)
        Ttot = x.shape[1]
        pos = torch.arange(Ttot, dtype=torch.float32)
        cos, sin = rope_cos_sin(pos, self.hd)
        mask = torch.ones(Ttot, Ttot, dtype=torch.bool).tril()
        for blk in self.blocks:
            x, _, _ = blk(x, cos, sin, mask)
        h = x[:, prefix_ids.shape[1] - 1:]
        return self.logits_from_hidden(h)

    def loss(self, prefix_ids, codes):
        logits = self(prefix_ids, codes)
        target = self.to_windows(codes)
        return F.cross_entropy(logits.reshape(-1, self.K), target.reshape(-1))


class Transformer(nn.Module):
    """The exported transformer: one module, one copy of the weights, two methods.

    prefill(input_ids [B,T]) -> logits [B,s*s,K], k_cache, v_cache [layers,B,heads,T,hd].
    decode(codes [B,s*s], position [1], k_cache, v_cache) -> logits [B,s*s,K], grown caches.

    Traced with torch.jit.trace_module, one trace per method, into one TorchScript file whose
    methods share the parameters under `m.`.
    """

    def __init__(self, m):
        super().__init__()
        self.m = m

    def prefill(self, input_ids):
        m = self.m
        x = m.embed_prefix(input_ids)
        # positions computed from the tensor itself so the trace stays dynamic in T
        pos = torch.ones_like(input_ids[0]).cumsum(0) - 1
        cos, sin = rope_cos_sin(pos.float(), m.hd)
        mask = pos[None, :] <= pos[:, None]
        ks, vs = [], []
        for blk in m.blocks:
            x, k, v = blk(x, cos, sin, mask)
            ks.append(k)
            vs.append(v)
        logits = m.logits_from_hidden(x[:, -1:])[:, 0]
        return logits, torch.stack(ks), torch.stack(vs)

    def decode(self, codes, position, k_cache, v_cache):
        m = self.m
        x = m.embed_codes(codes.unsqueeze(1))
        cos, sin = rope_cos_sin(position.float(), m.hd)
        ks, vs = [], []
        for i, blk in enumerate(m.blocks):
            x, k, v = blk(x, cos, sin, None, k_cache[i], v_cache[i])
            ks.append(k)
            vs.append(v)
        logits = m.logits_from_hidden(x)[:, 0]
        return logits, torch.stack(ks), torch.stack(vs)


def cfg_scale_at(i, n, guidance, shape="constant", start=1.0):
    """Guidance scale for image position i of n: constant, or linear rising from `start`."""
    if shape == "linear" and n > 1:
        # float32 in the Java runtime's order of operations, so both pick the same codes
        f = np.float32
        return float(f(start) + f(f(f(guidance) - f(start)) * f(i)) / f(n - 1))
    return guidance


def filter_logits(logits, temperature=1.0, top_k=0, top_p=1.0):
    logits = logits / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        srt, idx = torch.sort(logits, dim=-1, descending=True)
        cum = srt.softmax(-1).cumsum(-1)
        remove = cum - srt.softmax(-1) > top_p
        srt = srt.masked_fill(remove, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, idx, srt)
    return logits


def sample_from_uniform(probs, u):
    """Inverse-CDF sampling: probs [...,K], u [...] in [0,1) -> index. Reproducible in Java."""
    cdf = probs.cumsum(-1)
    idx = (cdf < u.unsqueeze(-1) * cdf[..., -1:]).sum(-1)
    return idx.clamp(max=probs.shape[-1] - 1)


@torch.no_grad()
def generate(prefill, decode, s, N, cond_ids, uncond_ids, guidance=3.0, top_k=16, top_p=1.0,
             temperature=1.0, cfg_shape="constant", cfg_start=1.0, generator=None, record=False,
             uniforms=None):
    """Sample codes [B, N, s*s] with CFG on logits, using prefill/decode (eager or traced methods).

    The per-token uniform draws u [N, B, s*s] come from `generator`, or are replayed from
    `uniforms` (a recording's); codes are the inverse-CDF sample of softmax(filtered guided logits).
    Returns windows (and a record dict if asked).
    """
    B = cond_ids.shape[0]
    ids = torch.cat([cond_ids, uncond_ids], 0)
    logits, kc, vc = prefill(ids)
    T = ids.shape[1]
    out, rec_u, rec_logits = [], [], []
    for i in range(N):
        g = cfg_scale_at(i, N, guidance, cfg_shape, cfg_start)
        lc, lu = logits[:B], logits[B:]
        guided = lu + g * (lc - lu)
        probs = filter_logits(guided, temperature, top_k, top_p).softmax(-1)
        u = uniforms[i] if uniforms is not None else torch.rand(B, s * s, generator=generator)
        codes = sample_from_uniform(probs, u)
        out.append(codes)
        if record:
            rec_u.append(u)
            rec_logits.append(guided)
        if i < N - 1:
            pos = torch.tensor([T + i], dtype=torch.long)
            logits, kc, vc = decode(torch.cat([codes, codes], 0), pos, kc, vc)
    win = torch.stack(out, 1)
    if record:
        return win, {"uniforms": torch.stack(rec_u), "guided_logits": torch.stack(rec_logits)}
    return win
